"""Change reports served by the real server (``/change/reports``): the same access rule as the OGC API
for change_events (internal: any valid key; anonymous callers get 404), HTML with the event table in
Vietnamese and English, PDF, problems for bad input, and a ranger's status update showing at once."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select, text

from sdi.models import CachedReport

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def event(engine, events) -> dict:
    """The largest event with a commune, with its commune name and plot, as the database has them."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT e.event_id, e.before_item, e.after_item, e.commune_code, a.name AS commune_name, e.plot_code "
            "FROM change_events e JOIN admin_units a ON a.code = e.commune_code "
            "ORDER BY e.area_ha DESC, e.event_id LIMIT 1")).one()
    return dict(row._mapping)


def _report(live_server, event, headers=None, **params) -> httpx.Response:
    url = f"{live_server.url}/change/reports/{event['before_item']}/{event['after_item']}"
    return httpx.get(url, params=params, headers=headers or {}, timeout=120)


def test_only_callers_who_may_read_change_events_see_reports(live_server, keys, event):
    base = f"{live_server.url}/change/reports"
    for r in (httpx.get(base, timeout=30), _report(live_server, event, commune=event["commune_code"])):
        # anonymous: as for the layer at /ogc/collections/change_events, the reports do not exist
        assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM), r.text
    assert httpx.get(f"{live_server.url}/ogc/collections/change_events/items", timeout=30).status_code == 404
    bad = httpx.get(base, headers={"X-API-Key": "sdi_00000000_" + "x" * 40}, timeout=30)
    assert bad.status_code == 401 and "WWW-Authenticate" in bad.headers
    # internal layer: rangers, and any other agency's staff with a valid key
    for who in ("ranger", "planner"):
        r = httpx.get(base, headers={"X-API-Key": keys[who]}, timeout=30)
        assert r.status_code == 200, r.text
        runs = r.json()["runs"]
        mine = next(x for x in runs if (x["before_item"], x["after_item"]) == (event["before_item"],
                                                                               event["after_item"]))
        assert mine["events"] > 0 and mine["new"] == mine["events"] and mine["loss_ha"] > 0
        commune = next(c for c in mine["communes"] if c["code"] == event["commune_code"])
        assert commune["name"] == event["commune_name"]
        html_link = next(link for link in commune["links"] if link["type"] == "text/html")
        assert html_link["href"].endswith(f"commune={event['commune_code']}&f=html")
        page = httpx.get(html_link["href"], headers={"X-API-Key": keys[who]}, timeout=120)
        assert page.status_code == 200 and event["event_id"] in page.text


def test_html_and_pdf_report_of_a_commune(live_server, keys, event):
    ranger = {"X-API-Key": keys["ranger"]}
    r = _report(live_server, event, ranger, commune=event["commune_code"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html") and "private" in r.headers["cache-control"]
    page = r.text
    assert f"Báo cáo biến động rừng – xã {event['commune_name']}" in page
    assert "Forest change report" in page
    for heading in ("Danh sách / Events", "Lô / plot", "Xã / commune", "Diện tích / area (ha)",
                    "Trạng thái / status", "Toạ độ / coordinates"):
        assert heading in page
    assert event["event_id"] in page and event["commune_name"] in page and "mới / new" in page
    if event["plot_code"]:
        assert event["plot_code"] in page
    assert "<svg" in page and "data:image/png;base64," in page  # map and image chips (the ranger sees both)
    pdf = _report(live_server, event, ranger, commune=event["commune_code"], f="pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 5000
    # the whole run, and the same page again from the cache (same ETag, 304 when asked conditionally)
    whole = _report(live_server, event, ranger)
    assert whole.status_code == 200 and event["event_id"] in whole.text and "đợt" in whole.text
    again = _report(live_server, event, {**ranger, "If-None-Match": r.headers["etag"]},
                    commune=event["commune_code"])
    assert again.status_code == 304


def test_bad_requests_are_problems(live_server, keys, event):
    ranger = {"X-API-Key": keys["ranger"]}
    cases = [
        (_report(live_server, event, ranger, commune=event["commune_code"], f="docx"), 400),
        (_report(live_server, event, ranger, commune=event["commune_code"], owner="x"), 400),
        (_report(live_server, event, ranger, commune="99999"), 404),
        (_report(live_server, event, ranger, owner="Không có chủ rừng này"), 404),
        (_report(live_server, {**event, "after_item": "no-such-item"}, ranger), 404),
        (_report(live_server, {**event, "before_item": event["after_item"], "after_item": event["before_item"]},
                 ranger), 404),
    ]
    for r, status in cases:
        assert r.status_code == status, (r.request.url, r.text)
        body = r.json()
        assert r.headers["content-type"].startswith(PROBLEM) and body["status"] == status and body["title"]


def test_report_shows_a_status_update_made_through_the_ogc_api(live_server, keys, event, engine):
    ranger = {"X-API-Key": keys["ranger"]}
    first = _report(live_server, event, ranger, commune=event["commune_code"])
    assert first.status_code == 200 and "mới / new" in first.text
    url = f"{live_server.url}/ogc/collections/change_events/items/{event['event_id']}"
    feature = httpx.get(url, headers=ranger, timeout=30).json()
    props = {k: v for k, v in feature["properties"].items() if k not in ("area_ha", "detected_at")}
    props.update(status="verified", note="Đã kiểm tra hiện trường ngày 15/3: khai thác trái phép")
    put = httpx.put(url, timeout=30, headers={**ranger, "Content-Type": "application/geo+json"},
                    content=json.dumps({"type": "Feature", "geometry": feature["geometry"], "properties": props}))
    assert put.status_code in (200, 204), put.text
    second = _report(live_server, event, ranger, commune=event["commune_code"])
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
    row = second.text.split(f"<td>{event['event_id']}</td>", 1)[1].split("</tr>", 1)[0]
    assert "đã xác minh / verified" in row and "khai thác trái phép" in row
    # the report of the old state is gone from the cache: one row per report and format, of the new state
    stem, key = second.headers["etag"].strip('"').split("-")
    assert first.headers["etag"].strip('"').split("-")[0] == stem
    with engine.connect() as conn:
        rows = conn.execute(select(CachedReport.key, CachedReport.version, CachedReport.media_type)
                            .where(CachedReport.key.startswith(stem), CachedReport.key.endswith(".html"))).all()
    assert [tuple(r) for r in rows] == [(f"{stem}.html", key, "text/html; charset=utf-8")]
    listed = httpx.get(f"{live_server.url}/change/reports", headers=ranger, timeout=30).json()["runs"]
    assert sum(r["verified"] for r in listed) == 1
