"""A report of events some of which lie outside any forest plot or commune (pandas reads those
missing texts as NaN beside real codes): it renders, showing "—" for what is missing."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import shapely

from change.report import build


def test_events_without_a_plot_or_commune_are_reported_with_a_dash():
    when = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    common = dict(change_type="loss", area_ha=0.6, magnitude=0.4, confidence=0.9, status="new", note=None,
                  before_date=when - dt.timedelta(days=30), after_date=when)
    frame = gpd.GeoDataFrame(
        [{**common, "event_id": "ev-in-plot", "plot_code": "LS-0001", "commune_code": "06001"},
         {**common, "event_id": "ev-outside", "plot_code": np.nan, "commune_code": np.nan}],
        geometry=[shapely.box(106.70, 21.80, 106.701, 21.801), shapely.box(106.72, 21.82, 106.721, 21.821)],
        crs=4326).rename_geometry("geom")
    html = build(frame, "Báo cáo", "Report", chips={})
    assert "ev-in-plot" in html and "LS-0001" in html and "ev-outside" in html
    row = html[html.index("<td>ev-outside</td>"):].split("</tr>")[0]  # the event's row in the table
    assert row.count("<td>—</td>") >= 2 and "nan" not in row  # plot and commune shown as missing
