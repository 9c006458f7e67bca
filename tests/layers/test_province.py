"""The province area used by every loader and ingest: the province grown by the tolerance."""

from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import text

from layers.province import TM3, province_area
from sdi.crs import STORAGE, reproject


def test_province_area_holds_every_point_within_the_tolerance_and_little_more(engine, seeded, settings):
    tol = settings.province_tolerance_m
    with engine.connect() as conn:
        area = province_area(conn, settings)
        outline = shapely.from_wkb(bytes(conn.execute(text(
            "SELECT ST_AsBinary(ST_Transform(geom, 9215)) FROM admin_units WHERE level = 'province'")).scalar()))

    def ring_points(distance: float) -> np.ndarray:
        ring = outline.buffer(distance).boundary
        points = [ring.interpolate(f, normalized=True) for f in np.linspace(0, 1, 400, endpoint=False)]
        return reproject(np.array(points), TM3, STORAGE)

    assert shapely.contains(area, ring_points(tol * 0.95)).all()  # everything within the tolerance is in
    assert not shapely.intersects(area, ring_points(tol * 1.3)).any()  # the simplification adds ≤ 2 × tol/10
