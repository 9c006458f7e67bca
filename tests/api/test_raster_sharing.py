"""Sharing a restricted raster collection with a named agency (read, then edit), and taking it back:
over the real server, each change in force within a second through every raster door (STAC collections,
items, search, tiles, TileJSON, the records catalogue, the QGIS project, upload); bad grants refused and
nothing changed; the ``sdi rasters share`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import morecantile
import pytest
from sqlalchemy import text

from tests.api.publishing import eventually
from tests.conftest import start_server, stop_server
from tests.uav_ingest.rasters import uav_rgb

COLL = "rung-dac-dung-kin"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def server(settings, seeded, tmp_path_factory) -> Iterator:
    store = tmp_path_factory.mktemp("sharing-store")
    live = start_server(settings, {"SDI_RASTER_STORE": str(store)})
    yield live
    stop_server(live)


@pytest.fixture(scope="module")
def shared(server, keys, engine, tmp_path_factory) -> Iterator[dict]:
    """A restricted collection of the rangers (kiemlam) with one flight, shared with nobody yet."""
    made = httpx.post(f"{server.url}/stac/collections", headers={"X-API-Key": keys["ranger"]}, timeout=60, json={
        "type": "Collection", "id": COLL, "title": "Rừng đặc dụng (hạn chế)", "sdi:title_en": "Special-use forest",
        "license": "CC-BY-4.0", "sdi:kind": "rgb", "sdi:access_level": "restricted"})
    assert made.status_code == 201, made.text
    flight = uav_rgb(tmp_path_factory.mktemp("sharing") / "flight.tif")
    up = httpx.post(f"{server.url}/stac/collections/{COLL}/items", files={"file": ("flight.tif", flight.read_bytes())},
                    data={"datetime": "2026-11-30"}, headers={"X-API-Key": keys["ranger"]}, timeout=300)
    assert up.status_code == 201, up.text
    item = up.json()
    other = uav_rgb(flight.with_name("other.tif"), seed=7)  # another flight, for the planners' uploads
    yield {"item": item["id"], "bbox": item["bbox"], "flight": other}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM access_log WHERE layer_id = :c"), {"c": COLL})
        conn.execute(text("DELETE FROM raster_items WHERE collection_id = :c"), {"c": COLL})
        conn.execute(text("DELETE FROM raster_collections WHERE id = :c"), {"c": COLL})


def _grants(engine) -> dict:
    with engine.connect() as conn:
        return conn.execute(text("SELECT grants FROM raster_collections WHERE id = :c"), {"c": COLL}).scalar_one()



def _doors(server, shared) -> dict[str, str]:
    """Every read door of the collection, by name: its URL."""
    lon, lat = (shared["bbox"][0] + shared["bbox"][2]) / 2, (shared["bbox"][1] + shared["bbox"][3]) / 2
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 16)
    rasters = f"{server.url}/rasters/{shared['item']}"
    return {
        "stac collection": f"{server.url}/stac/collections/{COLL}",
        "stac items": f"{server.url}/stac/collections/{COLL}/items",
        "stac item": f"{server.url}/stac/collections/{COLL}/items/{shared['item']}",
        "tile": f"{rasters}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png",
        "tilejson": f"{rasters}/WebMercatorQuad/tilejson.json",
        "mosaic tilejson": f"{server.url}/rasters/collections/{COLL}/mosaic/WebMercatorQuad/tilejson.json",
        "record": f"{server.url}/ogc/collections/catalogue/items/{COLL}",
    }


def _sees(server, shared, key: str) -> dict[str, bool]:
    """What the holder of ``key`` sees of the collection through each door (True: there, False: unknown)."""
    headers = {"X-API-Key": key}
    out = {}
    for name, url in _doors(server, shared).items():
        status = httpx.get(url, headers=headers, timeout=60).status_code
        assert status in (200, 404), (name, status)
        out[name] = status == 200
    listed = httpx.get(f"{server.url}/stac/collections", headers=headers, timeout=60).json()
    out["stac list"] = COLL in {c["id"] for c in listed["collections"]}
    found = httpx.get(f"{server.url}/stac/search", params={"ids": shared["item"]}, headers=headers, timeout=60)
    out["stac search"] = [f["id"] for f in found.json()["features"]] == [shared["item"]]
    records = httpx.get(f"{server.url}/ogc/collections/catalogue/items", params={"q": "đặc dụng"}, headers=headers,
                        timeout=60).json()
    out["records search"] = COLL in {f["id"] for f in records["features"]}
    project = httpx.get(f"{server.url}/qgis/project.qgs", headers=headers, timeout=60)
    out["qgis project"] = shared["item"] in project.text
    return out


def _upload(server, shared, key: str) -> httpx.Response:
    return httpx.post(f"{server.url}/stac/collections/{COLL}/items",
                      files={"file": ("again.tif", shared["flight"].read_bytes())},
                      data={"datetime": "2026-12-01"}, headers={"X-API-Key": key}, timeout=300)


def test_bad_grants_are_refused_and_change_nothing(server, keys, engine, shared):
    owner = {"X-API-Key": keys["ranger"]}
    url = f"{server.url}/stac/collections/{COLL}/grants/skhcn"
    cases = [  # (method, url, headers, body, status, words in the detail)
        ("PUT", url, {}, {"permission": "read"}, 401, "API key"),
        ("PUT", f"{server.url}/stac/collections/{COLL}/grants/khong_co", owner, {"permission": "read"}, 400,
         "unknown agency"),
        ("PUT", url, owner, {"permission": "own"}, 400, "permission"),
        ("PUT", url, owner, None, 400, "JSON"),
        ("PUT", f"{server.url}/stac/collections/{COLL}/grants/kiemlam", owner, {"permission": "read"}, 400,
         "owns"),
        # border security sees restricted collections but does not own this one
        ("PUT", url, {"X-API-Key": keys["border"]}, {"permission": "read"}, 403, "only the owning agency"),
        ("DELETE", url, {"X-API-Key": keys["border"]}, None, 403, "only the owning agency"),
        # another agency: the restricted collection does not exist for it
        ("PUT", url, {"X-API-Key": keys["planner"]}, {"permission": "read"}, 404, "no raster collection"),
        ("PUT", f"{server.url}/stac/collections/khong-co/grants/skhcn", owner, {"permission": "read"}, 404,
         "no raster collection"),
    ]
    for method, target, headers, body, status, words in cases:
        resp = httpx.request(method, target, headers=headers, json=body, timeout=30)
        assert resp.status_code == status, (method, target, resp.text)
        assert resp.headers["content-type"].startswith(PROBLEM)
        assert words in resp.json()["detail"], resp.json()
        assert _grants(engine) == {}
    # an unknown collection and one hidden from the caller answer alike
    hidden = httpx.put(url, headers={"X-API-Key": keys["planner"]}, json={"permission": "read"}, timeout=30)
    unknown = httpx.put(f"{server.url}/stac/collections/khong-co/grants/skhcn", headers={"X-API-Key": keys["planner"]},
                        json={"permission": "read"}, timeout=30)
    assert hidden.json()["detail"].replace(COLL, "X") == unknown.json()["detail"].replace("khong-co", "X")


def test_share_read_then_edit_then_take_it_back(server, keys, engine, shared):
    owner = {"X-API-Key": keys["ranger"]}
    url = f"{server.url}/stac/collections/{COLL}/grants/skhcn"
    assert all(_sees(server, shared, keys["ranger"]).values())
    before = _sees(server, shared, keys["planner"])
    assert not any(before.values()), before
    assert _upload(server, shared, keys["planner"]).status_code == 404  # unknown to the planners

    resp = httpx.put(url, headers=owner, json={"permission": "read"}, timeout=30)
    assert resp.status_code == 200 and resp.json()["grants"] == {"skhcn": "read"}
    assert eventually(lambda: all(_sees(server, shared, keys["planner"]).values()), 1.5), \
        _sees(server, shared, keys["planner"])
    # read only: no upload, no sharing further
    refused = _upload(server, shared, keys["planner"])
    assert refused.status_code == 403 and refused.headers["content-type"].startswith(PROBLEM)
    assert httpx.put(f"{server.url}/stac/collections/{COLL}/grants/sxd", headers={"X-API-Key": keys["planner"]},
                     json={"permission": "read"}, timeout=30).status_code == 403
    # the planner's reads of the restricted collection are in the access log
    with engine.connect() as conn:
        logged = conn.execute(text("SELECT path FROM access_log WHERE layer_id = :c AND action = 'read' "
                                   "AND status = 200 AND key_name LIKE 'planner%'"), {"c": COLL}).scalars().all()
    doors = _doors(server, shared)
    for door in ("stac collection", "stac items", "stac item", "tile"):
        assert doors[door].removeprefix(server.url) in logged, (door, logged)
    assert any(p.startswith("/stac/search?ids=") for p in logged), logged

    assert httpx.put(url, headers=owner, json={"permission": "edit"}, timeout=30).json()["grants"] == {"skhcn": "edit"}
    uploads: list[httpx.Response] = []
    assert eventually(lambda: uploads.append(_upload(server, shared, keys["planner"]))
                       or uploads[-1].status_code == 201, 3), uploads[-1].text
    assert uploads[-1].json()["collection"] == COLL and uploads[-1].json()["id"] != shared["item"]

    gone = httpx.delete(url, headers=owner, timeout=30)
    assert gone.status_code == 200 and gone.json()["grants"] == {}
    assert eventually(lambda: not any(_sees(server, shared, keys["planner"]).values()), 1.5), \
        _sees(server, shared, keys["planner"])
    assert _grants(engine) == {}


def _sdi(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDI_DATABASE_URL": settings.database_url}
    return subprocess.run([sys.executable, "-m", "sdi.cli", "rasters", "share", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_sdi_rasters_share_command(settings, engine, shared):
    done = _sdi(settings, COLL, "--agency", "sxd", "--edit")
    assert done.returncode == 0, done.stderr
    assert "sxd (edit)" in done.stdout and _grants(engine) == {"sxd": "edit"}
    bad = _sdi(settings, COLL, "--agency", "khong_co", "--read")
    assert bad.returncode != 0 and "unknown agency" in bad.stdout + bad.stderr
    assert _grants(engine) == {"sxd": "edit"}
    assert _sdi(settings, "khong-co", "--agency", "sxd", "--read").returncode != 0
    assert _sdi(settings, COLL, "--agency", "sxd", "--read", "--edit").returncode != 0
    assert _sdi(settings, COLL, "--agency", "sxd", "--revoke").returncode == 0
    assert _grants(engine) == {}
