"""Sharing a restricted layer with a named agency (read, then edit), taking it back, and the owner
reading who looked: through the real server, each change in force within a second."""

from __future__ import annotations

import json

import httpx

from tests.api.publishing import eventually
from tests.api.publishing import gpkg_of as _gpkg
from tests.api.publishing import post_layer as _post


def _get(url: str, key: str | None) -> httpx.Response:
    return httpx.get(url, headers={"X-API-Key": key} if key else {}, timeout=30)



def test_share_read_then_edit_then_take_it_back(live_server, keys, engine, tmp_path, made):
    made.append("vung_quy_hoach_kin")
    base = live_server.url
    created = _post(base, _gpkg(tmp_path / "q.gpkg"), "q.gpkg", keys["planner"], id="vung_quy_hoach_kin",
                    title_vi="Vùng quy hoạch (hạn chế)", access="restricted")
    assert created.status_code == 201
    items = f"{base}/ogc/collections/vung_quy_hoach_kin/items"
    assert eventually(lambda: _get(items, keys["planner"]).status_code == 200, 3.0)
    assert _get(items, keys["ranger"]).status_code == 404  # another agency: it does not exist
    grants = f"{base}/layers/vung_quy_hoach_kin/grants/kiemlam"
    owner = {"X-API-Key": keys["planner"]}
    # bad grants change nothing
    assert httpx.put(f"{base}/layers/vung_quy_hoach_kin/grants/khong_co", json={"permission": "read"},
                     headers=owner, timeout=30).status_code == 400
    assert httpx.put(grants, json={"permission": "own"}, headers=owner, timeout=30).status_code == 400
    assert httpx.put(grants, json={"permission": "read"}, timeout=30).status_code == 401
    shared = httpx.put(grants, json={"permission": "read"}, headers=owner, timeout=30)
    assert shared.status_code == 200 and shared.json()["grants"] == {"kiemlam": "read"}
    assert eventually(lambda: _get(items, keys["ranger"]).status_code == 200, 1.5)
    assert _get(items, keys["anonymous"] if "anonymous" in keys else None).status_code == 404
    # read only: the ranger may not edit, nor share further
    feature = {"type": "Feature", "properties": {"ten_cay": "Mới"},
               "geometry": {"type": "Point", "coordinates": [106.71, 21.9]}}
    ranger_writes = {"X-API-Key": keys["ranger"], "Content-Type": "application/geo+json"}
    assert httpx.post(items, content=json.dumps(feature), headers=ranger_writes, timeout=30).status_code == 403
    assert httpx.put(f"{base}/layers/vung_quy_hoach_kin/grants/sxd", json={"permission": "read"},
                     headers={"X-API-Key": keys["ranger"]}, timeout=30).status_code == 403
    assert httpx.put(grants, json={"permission": "edit"}, headers=owner, timeout=30).status_code == 200
    edits: list[httpx.Response] = []
    assert eventually(lambda: edits.append(httpx.post(items, content=json.dumps(feature), headers=ranger_writes,
                                                       timeout=30)) or edits[-1].status_code == 201, 1.5), \
        edits[-1].text
    # who looked: the owner reads the log; the ranger may not
    log = _get(f"{base}/layers/vung_quy_hoach_kin/access-log", keys["planner"])
    assert log.status_code == 200
    entries = log.json()["entries"]
    assert any(e["key_name"].startswith("ranger") and e["action"] == "read" for e in entries)
    assert any(e["key_name"].startswith("ranger") and e["action"] == "write" and e["status"] == 201 for e in entries)
    assert _get(f"{base}/layers/vung_quy_hoach_kin/access-log", keys["ranger"]).status_code == 403
    # taken back: gone for the ranger within a second
    assert httpx.delete(grants, headers=owner, timeout=30).json()["grants"] == {}
    assert eventually(lambda: _get(items, keys["ranger"]).status_code == 404, 1.5)
