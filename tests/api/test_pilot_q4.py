"""The Q4/2026 data-sharing pilot, end to end on a real server (issue 13's "done when").

Construction (``sxd``) publishes planning zones, restricted and shared with Agriculture & Environment
(``snnmt``); Agriculture & Environment publishes rare trees (public) and forest encroachment
(internal), and a new raster collection that gets a UAV flight; the Military Command (``bchqs``)
publishes patrol areas, restricted and shared with nobody. Each agency's key, an admin's and an
anonymous caller then see exactly what they should through every door, and edit only their own.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator

import geopandas as gpd
import httpx
import pystac_client
import pytest
import shapely
from sqlalchemy import text

from sdi.access import add_key
from tests.api.publishing import post_layer
from tests.conftest import start_server, stop_server
from tests.uav_ingest.rasters import uav_rgb

ZONES, TREES, ENCROACH, PATROL = "vung_quy_hoach_q4", "cay_quy_hiem_q4", "lan_chiem_rung_q4", "tuan_tra_q4"
COLLECTION = "bay-kiem-tra-q4-2026"
CALLERS = ["anonymous", "sxd", "snnmt", "bchqs", "admin"]
#: who may see what, by the access rule: public to all, internal to every key, restricted to the owner,
#: the agencies it is shared with and admins (the Border Guard's role is not part of this pilot)
SEES = {
    ZONES: {"sxd", "snnmt", "admin"},
    TREES: set(CALLERS),
    ENCROACH: {"sxd", "snnmt", "bchqs", "admin"},
    PATROL: {"bchqs", "admin"},
    COLLECTION: {"sxd", "snnmt", "bchqs", "admin"},
}
#: who may edit: the owner and admins (a read grant does not let Agriculture & Environment edit the zones)
EDITS = {ZONES: {"sxd", "admin"}, TREES: {"snnmt", "admin"}, ENCROACH: {"snnmt", "admin"},
         PATROL: {"bchqs", "admin"}}
#: a place inside every layer's features (near Lạng Sơn city), for the tile doors
LON, LAT = 106.7600, 21.8500


def _polygons(path, names: list[str], column: str = "Tên khu") -> bytes:
    frame = gpd.GeoDataFrame(
        {column: names, "Ghi chú": [f"Q4/2026 #{i}" for i in range(len(names))]},
        geometry=[shapely.box(LON - 0.01 + i * 0.004, LAT - 0.01, LON - 0.007 + i * 0.004, LAT + 0.01)
                  for i in range(len(names))], crs=4326)
    frame.to_file(path, driver="GPKG")
    return path.read_bytes()


def _points(path, names: list[str]) -> bytes:
    frame = gpd.GeoDataFrame({"Tên cây": names, "Tuổi": [120 + i for i in range(len(names))]},
                             geometry=[shapely.Point(LON + i / 1000, LAT) for i in range(len(names))], crs=4326)
    frame.to_file(path, driver="GPKG")
    return path.read_bytes()


def _tile(z: int = 14) -> str:
    n = 2**z
    x = int((LON + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(LAT))) / math.pi) / 2 * n)
    return f"{z}/{y}/{x}"


def _h(keys: dict, who: str) -> dict:
    return {"X-API-Key": keys[who]} if who != "anonymous" else {}


@pytest.fixture(scope="module")
def pilot_keys(engine, seeded) -> dict[str, str]:
    run = time.time_ns()
    return {"sxd": add_key(engine, f"xay-dung-{run}", "sxd"), "snnmt": add_key(engine, f"nong-nghiep-{run}", "snnmt"),
            "bchqs": add_key(engine, f"quan-su-{run}", "bchqs"), "admin": add_key(engine, f"admin-q4-{run}", "ubnd",
                                                                                  "admin")}


@pytest.fixture(scope="module")
def server(settings, seeded, tmp_path_factory) -> Iterator:
    live = start_server(settings, {"SDI_RASTER_STORE": str(tmp_path_factory.mktemp("pilot-store"))})
    yield live
    stop_server(live)


@pytest.fixture(scope="module")
def pilot(server, pilot_keys, engine, tmp_path_factory) -> Iterator[dict]:
    """The four layers and the raster collection, published as the agencies would."""
    tmp = tmp_path_factory.mktemp("pilot")
    base, k = server.url, pilot_keys
    published = [
        (ZONES, "sxd", _polygons(tmp / "zones.gpkg", ["Khu đô thị Mai Pha", "Cụm công nghiệp Hợp Thành"]),
         {"title_vi": "Vùng quy hoạch thí điểm Q4/2026", "title_en": "Planning zones, Q4/2026 pilot",
          "access": "restricted"}),
        (TREES, "snnmt", _points(tmp / "trees.gpkg", ["Nghiến Mẫu Sơn", "Trai lý Hữu Lũng", "Kim giao Bắc Sơn"]),
         {"title_vi": "Cây quý hiếm, đặc hữu", "title_en": "Rare and endemic trees", "access": "public"}),
        (ENCROACH, "snnmt", _polygons(tmp / "encroach.gpkg", ["Điểm lấn chiếm Tân Thành"], "Tên điểm"),
         {"title_vi": "Lấn chiếm đất rừng", "title_en": "Forest encroachment", "access": "internal"}),
        (PATROL, "bchqs", _polygons(tmp / "patrol.gpkg", ["Khu vực tuần tra số 1", "Khu vực tuần tra số 2"]),
         {"title_vi": "Khu vực tuần tra", "title_en": "Patrol areas", "access": "restricted"}),
    ]
    try:
        for layer_id, agency, content, fields in published:
            resp = post_layer(base, content, f"{layer_id}.gpkg", k[agency], id=layer_id, **fields)
            assert resp.status_code == 201, (layer_id, resp.text)
        shared = httpx.put(f"{base}/layers/{ZONES}/grants/snnmt", json={"permission": "read"},
                           headers=_h(k, "sxd"), timeout=30)
        assert shared.status_code == 200, shared.text
        made = httpx.post(f"{base}/stac/collections", headers=_h(k, "snnmt"), timeout=60, json={
            "type": "Collection", "id": COLLECTION, "title": "Bay kiểm tra rừng Q4/2026",
            "sdi:title_en": "Forest check flights, Q4/2026", "description": "Ảnh UAV thí điểm chia sẻ dữ liệu",
            "license": "CC-BY-4.0", "sdi:kind": "rgb", "sdi:access_level": "internal"})
        assert made.status_code == 201, made.text
        flight = uav_rgb(tmp / "flight.tif", width=800, height=600)
        upload = httpx.post(f"{base}/stac/collections/{COLLECTION}/items", headers=_h(k, "snnmt"), timeout=300,
                            files={"file": ("flight.tif", flight.read_bytes())}, data={"datetime": "2026-11-30"})
        assert upload.status_code == 201, upload.text
        time.sleep(1.2)  # every door sees catalogue changes within a second
        yield {"item": upload.json()["id"]}
    finally:
        with engine.begin() as conn:
            for layer_id, *_ in published:
                conn.execute(text("DELETE FROM layers WHERE id = :i"), {"i": layer_id})
                conn.execute(text(f'DROP TABLE IF EXISTS published."{layer_id}"'))
            conn.execute(text("DELETE FROM raster_items WHERE collection_id = :c"), {"c": COLLECTION})
            conn.execute(text("DELETE FROM raster_collections WHERE id = :c"), {"c": COLLECTION})


def _digest(conn, layer: str) -> tuple:
    """Rows and a checksum of a published table (its name from the test's own constants)."""
    query = f'SELECT count(*), md5(string_agg(t::text, \'|\' ORDER BY t::text)) FROM published."{layer}" t'  # noqa: S608
    return tuple(conn.execute(text(query)).one())


def _layer_doors(layer: str) -> dict[str, str]:
    return {
        "collection": f"/ogc/collections/{layer}?f=json",
        "items": f"/ogc/collections/{layer}/items?f=json&limit=10",
        "export_csv": f"/ogc/collections/{layer}/items?f=csv",
        "queryables": f"/ogc/collections/{layer}/queryables?f=json",
        "tile": f"/ogc/collections/{layer}/tiles/WebMercatorQuad/{_tile()}?f=mvt",
        "tilejson": f"/ogc/collections/{layer}/tiles/WebMercatorQuad/tilejson",
        "record": f"/ogc/collections/catalogue/items/{layer}?f=json",
        "layer": f"/layers/{layer}",
        "iso19139": f"/layers/{layer}/metadata.xml",
        "dcat": f"/layers/{layer}/dcat.jsonld",
    }


@pytest.mark.parametrize("who", CALLERS)
def test_each_agency_sees_exactly_its_share_through_every_door(server, pilot, pilot_keys, who):
    base, h = server.url, _h(pilot_keys, who)
    layers = [ZONES, TREES, ENCROACH, PATROL]
    unknown = _layer_doors("khong_co_lop")
    for layer in layers:
        allowed = who in SEES[layer]
        for door, path in _layer_doors(layer).items():
            r = httpx.get(base + path, headers=h, timeout=60)
            if allowed:
                assert r.status_code in (200, 204), (who, layer, door, r.status_code, r.text[:300])
            else:  # exactly what a layer that does not exist gets
                u = httpx.get(base + unknown[door], headers=h, timeout=60)
                assert r.status_code == u.status_code == 404, (who, layer, door, r.status_code)
                assert r.text.replace(layer, "X") == u.text.replace("khong_co_lop", "X"), (who, layer, door)
    listed = {c["id"] for c in httpx.get(f"{base}/ogc/collections?f=json", headers=h, timeout=30).json()["collections"]}
    records = httpx.get(f"{base}/ogc/collections/catalogue/items?f=json&limit=500", headers=h, timeout=30).json()
    in_records = {f["id"] for f in records["features"]}
    layers_json = {layer["id"] for layer in httpx.get(f"{base}/layers", headers=h, timeout=30).json()}
    openapi = httpx.get(f"{base}/ogc/openapi?f=json", headers=h, timeout=120).text
    project = httpx.get(f"{base}/qgis/project.qgs", headers=h, timeout=60)
    assert project.status_code == 200
    for layer in layers:
        expected = who in SEES[layer]
        assert (layer in listed) == expected, ("collections", who, layer)
        assert (layer in in_records) == expected, ("records", who, layer)
        assert (layer in layers_json) == expected, ("/layers", who, layer)
        assert (f"/collections/{layer}/" in openapi) == expected, ("openapi", who, layer)
        assert (f"typename='{layer}'" in project.text) == expected, ("qgis project", who, layer)
    # the web map's place search finds names in the published layers the caller may read (not restricted
    # ones: those are read only through /ogc, where every read is logged)
    found = httpx.get(f"{base}/webmap/search", params={"q": "nghien mau son"}, headers=h, timeout=30).json()
    assert any(r["layer"] == TREES and r["name"] == "Nghiến Mẫu Sơn" for r in found["results"]), found
    encroach = httpx.get(f"{base}/webmap/search", params={"q": "lấn chiếm tân thành"}, headers=h, timeout=30).json()
    assert any(r["layer"] == ENCROACH for r in encroach["results"]) == (who in SEES[ENCROACH]), encroach
    patrol = httpx.get(f"{base}/webmap/search", params={"q": "tuần tra"}, headers=h, timeout=30).json()
    assert not any(r["layer"] in (PATROL, ZONES) for r in patrol["results"])
    # the raster collection and its flight: STAC (pystac-client), records, tiles
    stac = pystac_client.Client.open(f"{base}/stac", headers=h)
    collections = {c.id for c in stac.get_collections()}
    assert (COLLECTION in collections) == (who in SEES[COLLECTION]), (who, collections)
    assert (COLLECTION in in_records) == (who in SEES[COLLECTION]), (who, "records")
    items = list(stac.search(collections=[COLLECTION], max_items=10).items()) if COLLECTION in collections else []
    assert [i.id for i in items] == ([pilot["item"]] if who in SEES[COLLECTION] else [])
    tilejson = httpx.get(f"{base}/rasters/{pilot['item']}/WebMercatorQuad/tilejson.json", headers=h, timeout=30)
    assert tilejson.status_code == (200 if who in SEES[COLLECTION] else 404), (who, tilejson.text[:200])


@pytest.mark.parametrize("who", CALLERS)
def test_each_agency_edits_only_its_own(server, pilot, pilot_keys, engine, who):
    base = server.url
    for layer in (ZONES, TREES, ENCROACH, PATROL):
        with engine.connect() as conn:
            before = _digest(conn, layer)
        column = "ten_cay" if layer == TREES else ("ten_diem" if layer == ENCROACH else "ten_khu")
        geometry = ({"type": "Point", "coordinates": [LON, LAT + 0.001]} if layer == TREES else
                    {"type": "Polygon", "coordinates": [[[LON, LAT], [LON + 0.001, LAT], [LON + 0.001, LAT + 0.001],
                                                         [LON, LAT]]]})
        feature = {"type": "Feature", "properties": {column: f"Sửa bởi {who}"}, "geometry": geometry}
        resp = httpx.post(f"{base}/ogc/collections/{layer}/items", content=json.dumps(feature), timeout=30,
                          headers={**_h(pilot_keys, who), "Content-Type": "application/geo+json"})
        if who in EDITS[layer]:
            assert resp.status_code == 201, (who, layer, resp.text)
            created = resp.headers["location"].rstrip("/").rsplit("/", 1)[-1]
            gone = httpx.delete(f"{base}/ogc/collections/{layer}/items/{created}", headers=_h(pilot_keys, who),
                                timeout=30)
            assert gone.status_code == 200 or gone.status_code == 204, (who, layer, gone.text)
        else:
            # not allowed to see: 404 (it does not exist for them); allowed to read only: 403, or 401 without a key
            expected = (401 if who == "anonymous" else 403) if who in SEES[layer] else 404
            assert resp.status_code == expected, (who, layer, resp.status_code, resp.text[:300])
        with engine.connect() as conn:
            after = _digest(conn, layer)
        if who not in EDITS[layer]:
            assert after == before, (who, layer)


def test_reads_of_the_restricted_layers_are_in_their_owners_access_log(server, pilot, pilot_keys):
    base, k = server.url, pilot_keys
    assert httpx.get(f"{base}/ogc/collections/{ZONES}/items?f=json", headers=_h(k, "snnmt"),
                     timeout=30).status_code == 200
    log = httpx.get(f"{base}/layers/{ZONES}/access-log", headers=_h(k, "sxd"), timeout=30)
    assert log.status_code == 200
    assert any(e["key_name"].startswith("nong-nghiep-") and e["action"] == "read" for e in log.json()["entries"])
    # the grantee may not read the owner's log, the Military Command does not even see the layer
    assert httpx.get(f"{base}/layers/{ZONES}/access-log", headers=_h(k, "snnmt"), timeout=30).status_code == 403
    assert httpx.get(f"{base}/layers/{ZONES}/access-log", headers=_h(k, "bchqs"), timeout=30).status_code == 404
    assert httpx.get(f"{base}/layers/{PATROL}/access-log", headers=_h(k, "sxd"), timeout=30).status_code == 404
