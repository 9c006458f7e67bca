"""change_events through the OGC API: listed for agency staff (internal), rangers set the status with
a PUT, other agencies may read but not edit, anonymous callers do not see the layer; GeoJSON/KML export."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import text

from change.export import export, read_events


def test_rangers_verify_an_event_through_the_api(live_server, keys, events, engine):
    url = f"{live_server.url}/ogc/collections/change_events/items"
    ranger = {"X-API-Key": keys["ranger"]}
    assert httpx.get(url, timeout=30).status_code == 404  # internal: anonymous callers do not see it
    listed = httpx.get(url, headers={"X-API-Key": keys["planner"]}, params={"limit": 100}, timeout=30)
    assert listed.status_code == 200 and len(listed.json()["features"]) == events.written
    event_id = events.events.event_id.iloc[0]
    feature = httpx.get(f"{url}/{event_id}", headers=ranger, timeout=30).json()
    props = feature["properties"]
    assert props["change_type"] in ("loss", "gain") and props["status"] == "new" and props["area_ha"] > 0
    for computed in ("area_ha", "detected_at"):
        props.pop(computed, None)
    props.update(status="verified", note="Đã kiểm tra hiện trường ngày 15/3 / field-checked on 15 March")
    body = json.dumps({"type": "Feature", "geometry": feature["geometry"], "properties": props})
    denied = httpx.put(f"{url}/{event_id}", content=body, timeout=30,
                       headers={"X-API-Key": keys["planner"], "Content-Type": "application/geo+json"})
    assert denied.status_code == 403
    done = httpx.put(f"{url}/{event_id}", content=body, timeout=30,
                     headers={**ranger, "Content-Type": "application/geo+json"})
    assert done.status_code in (200, 204), done.text
    with engine.connect() as conn:
        status, note = conn.execute(text("SELECT status, note FROM change_events WHERE event_id = :e"),
                                    {"e": event_id}).one()
    assert status == "verified" and note.startswith("Đã kiểm tra")
    props["status"] = "bogus"  # a status the layer does not know: refused, nothing changed
    bad = httpx.put(f"{url}/{event_id}", timeout=30, headers={**ranger, "Content-Type": "application/geo+json"},
                    content=json.dumps({"type": "Feature", "geometry": feature["geometry"], "properties": props}))
    assert 400 <= bad.status_code < 500
    tiles = httpx.get(f"{live_server.url}/ogc/collections/change_events/tiles", headers=ranger, timeout=30)
    assert tiles.status_code == 200


def test_export_geojson_and_kml(engine, events, tmp_path):
    frame = read_events(engine, after_item=events.result.after.id)
    assert len(frame) == events.written
    gj = json.loads(export(frame, tmp_path / "events.geojson").read_text(encoding="utf-8"))
    assert len(gj["features"]) == events.written
    first = gj["features"][0]["properties"]
    assert "mất rừng" in first["Description"] or "tăng" in first["Description"]
    kml = export(frame, tmp_path / "events.kml").read_text(encoding="utf-8")
    assert kml.count("<Placemark") == events.written and "<Polygon" in kml
    with pytest.raises(Exception, match="unsupported export format"):
        export(frame, tmp_path / "events.shp")


def test_reports_per_commune_and_owner(engine, settings, events, tmp_path):
    from change.report import write_reports

    paths = write_reports(engine, settings, tmp_path, after_item=events.result.after.id)
    htmls = [p for p in paths if p.suffix == ".html"]
    pdfs = [p for p in paths if p.suffix == ".pdf"]
    assert htmls and len(htmls) == len(pdfs) and any(p.name.startswith("xa-") for p in htmls)
    page = htmls[0].read_text(encoding="utf-8")
    assert "Báo cáo biến động rừng" in page and "Forest change report" in page and "<svg" in page
    assert "data:image/png;base64," in page and "VN-2000" in page and "ha" in page
    assert pdfs[0].read_bytes().startswith(b"%PDF") and pdfs[0].stat().st_size > 5000
