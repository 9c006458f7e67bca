"""OGC API – Features (Parts 1–4), Tiles and Records at /ogc, through a real uvicorn server.

Clients are real: httpx for the protocol details, GDAL's OAPIF driver (pyogrio) and OWSLib
as a planner's tools would use them, GDAL's MVT driver to decode tiles.
"""

from __future__ import annotations

import json
import math

import httpx
import pyogrio
import pytest
from pyproj import Transformer
from sqlalchemy import text

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
HUU_NGHI = (106.71222, 21.97639)  # published coordinate of the Hữu Nghị gate (lon, lat)


@pytest.fixture(scope="module")
def ogc(live_server) -> str:
    return live_server.url + "/ogc"


def get(url: str, **kw) -> httpx.Response:
    return httpx.get(url, timeout=30, **kw)


def db_count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


# --- Part 1 core --------------------------------------------------------------------------

def test_conformance_declares_what_is_served(ogc):
    classes = set(get(f"{ogc}/conformance?f=json").json()["conformsTo"])
    for uri in [
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
        "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/core",
    ]:
        assert uri in classes, uri


def test_landing_links_use_the_mount_path(ogc):
    body = get(f"{ogc}/?f=json").json()
    hrefs = {link["rel"]: link["href"] for link in body["links"]}
    assert hrefs["data"].startswith(ogc + "/collections")
    assert hrefs["conformance"].startswith(ogc + "/conformance")


def test_collections_list_public_layers_with_bilingual_titles(ogc, catalog):
    body = get(f"{ogc}/collections?f=json").json()
    ids = {c["id"] for c in body["collections"]}
    public = {k for k, v in catalog.items() if v.access_level == "public"}
    assert ids == public | {"catalogue"}
    gates = next(c for c in body["collections"] if c["id"] == "border_gates")
    assert gates["title"] == catalog["border_gates"].title_vi  # Vietnamese by default
    en = get(f"{ogc}/collections/border_gates?f=json&lang=en").json()
    assert en["title"] == catalog["border_gates"].title_en
    assert CRS84 in gates["crs"] and EPSG + "9215" in gates["crs"] and EPSG + "3405" in gates["crs"]


def test_items_default_and_maximum_limit(ogc, engine):
    r = get(f"{ogc}/collections/poi_osm/items?f=json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["numberReturned"] == 100
    assert body["numberMatched"] == db_count(engine, "SELECT count(*) FROM poi_osm")
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    page2 = get(nxt).json()
    assert page2["numberReturned"] == 100
    assert {f["id"] for f in page2["features"]}.isdisjoint(f["id"] for f in body["features"])
    assert get(f"{ogc}/collections/poi_osm/items?limit=10000").status_code == 200
    too_many = get(f"{ogc}/collections/poi_osm/items?limit=10001")
    assert too_many.status_code == 400 and too_many.headers["content-type"] == "application/problem+json"
    assert "10000" in too_many.json()["detail"]


def test_bbox_returns_what_postgis_finds(ogc, engine):
    bbox = (106.6, 21.8, 106.9, 22.1)
    body = get(f"{ogc}/collections/admin_units/items", params={"bbox": ",".join(map(str, bbox)),
                                                               "limit": 1000, "skipGeometry": "true"}).json()
    expected = db_count(engine, "SELECT count(*) FROM admin_units WHERE geom && ST_MakeEnvelope(:a,:b,:c,:d,4326) "
                        "AND ST_Intersects(geom, ST_MakeEnvelope(:a,:b,:c,:d,4326))",
                        a=bbox[0], b=bbox[1], c=bbox[2], d=bbox[3])
    assert 0 < body["numberReturned"] == expected


def test_datetime_filters_on_the_layers_date(ogc, engine):
    body = get(f"{ogc}/collections/pilot_sites/items",
               params={"datetime": "2026-01-01/..", "limit": 1000, "skipGeometry": "true"}).json()
    expected = db_count(engine, "SELECT count(*) FROM pilot_sites WHERE start_date >= '2026-01-01'")
    assert body["numberReturned"] == expected
    assert expected < db_count(engine, "SELECT count(*) FROM pilot_sites")


def test_single_item_and_unknown_ids(ogc):
    r = get(f"{ogc}/collections/border_gates/items/huu_nghi")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    feature = r.json()
    assert feature["properties"]["name_vi"] == "Cửa khẩu quốc tế Hữu Nghị"
    assert feature["geometry"]["coordinates"] == pytest.approx(list(HUU_NGHI), abs=1e-5)
    for path in ["border_gates/items/khong_co", "rivers/items/abc", "rivers/items/99999999999999999999",
                 "admin_units/items/%27%3B%20DROP%20TABLE%20layers%3B--"]:
        r = get(f"{ogc}/collections/{path}")
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json"


def test_html_pages(ogc):
    r = get(f"{ogc}/collections/border_gates/items?f=html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Hữu Nghị" in r.text


# --- Part 2 CRS -----------------------------------------------------------------------------

@pytest.mark.parametrize("code", [9215, 3405, 3857])
def test_output_crs_is_transformed_exactly(ogc, code):
    r = get(f"{ogc}/collections/border_gates/items/huu_nghi", params={"crs": f"{EPSG}{code}"})
    assert r.status_code == 200
    assert r.headers["content-crs"] == f"<{EPSG}{code}>"
    x, y = r.json()["geometry"]["coordinates"]
    ex, ey = Transformer.from_crs("OGC:CRS84", f"EPSG:{code}", always_xy=True).transform(*HUU_NGHI)
    assert math.dist((x, y), (ex, ey)) < 1.0  # metres


def test_epsg_4326_is_lat_lon_and_crs84_lon_lat(ogc):
    lat_lon = get(f"{ogc}/collections/border_gates/items/huu_nghi", params={"crs": f"{EPSG}4326"}).json()
    assert lat_lon["geometry"]["coordinates"] == pytest.approx([HUU_NGHI[1], HUU_NGHI[0]], abs=1e-5)
    lon_lat = get(f"{ogc}/collections/border_gates/items/huu_nghi", params={"crs": CRS84}).json()
    assert lon_lat["geometry"]["coordinates"] == pytest.approx(list(HUU_NGHI), abs=1e-5)


def test_bbox_crs_in_vn2000(ogc):
    x, y = Transformer.from_crs("OGC:CRS84", "EPSG:9215", always_xy=True).transform(*HUU_NGHI)
    body = get(f"{ogc}/collections/border_gates/items", params={
        "bbox": f"{x - 500},{y - 500},{x + 500},{y + 500}", "bbox-crs": f"{EPSG}9215"}).json()
    assert [f["id"] for f in body["features"]] == ["huu_nghi"]


@pytest.mark.parametrize("code", [4326, 3857, 3405])
def test_bbox_crs_in_other_axis_orders_and_projections(ogc, code):
    """EPSG:4326 is lat/lon (its axis order), 3857 and 3405 are x/y: each finds the same gate."""
    half = 0.004 if code == 4326 else 400
    x, y = Transformer.from_crs("OGC:CRS84", f"EPSG:{code}").transform(*HUU_NGHI)  # the CRS's own order
    body = get(f"{ogc}/collections/border_gates/items", params={
        "bbox": f"{x - half},{y - half},{x + half},{y + half}", "bbox-crs": f"{EPSG}{code}"}).json()
    assert [f["id"] for f in body["features"]] == ["huu_nghi"]


def test_bbox_selects_what_postgis_selects(ogc, engine):
    box = (106.6, 21.8, 106.9, 22.0)
    with engine.connect() as conn:
        expected = sorted(conn.execute(text(
            "SELECT osm_id FROM poi_osm WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"),
            dict(zip("abcd", box, strict=True))).scalars())
    assert expected
    body = get(f"{ogc}/collections/poi_osm/items", params={"bbox": ",".join(map(str, box)), "limit": 1000,
                                                         "skipGeometry": "true"}).json()
    assert sorted(f["properties"]["osm_id"] for f in body["features"]) == expected


def test_bad_bbox_crs_is_a_400(ogc):
    r = get(f"{ogc}/collections/border_gates/items", params={"bbox": "1,2,3,4", "bbox-crs": "urn:nope:42"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


def test_unknown_crs_is_a_400(ogc):
    r = get(f"{ogc}/collections/border_gates/items", params={"crs": f"{EPSG}2154"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


# --- Part 3 filtering -----------------------------------------------------------------------

def _codes(ogc: str, collection: str, **params) -> list[str]:
    r = get(f"{ogc}/collections/{collection}/items", params={"limit": 1000, "skipGeometry": "true", **params})
    assert r.status_code == 200, r.text
    return sorted(f["id"] for f in r.json()["features"])


def test_cql2_text_json_and_property_filters_agree_with_postgis(ogc, engine):
    with engine.connect() as conn:
        expected = sorted(conn.execute(text("SELECT code FROM pilot_sites WHERE problem_code = '2026-16'")).scalars())
    assert expected  # problem 16 (forest monitoring) has pilot sites
    assert _codes(ogc, "pilot_sites", filter="problem_code = '2026-16'") == expected
    assert _codes(ogc, "pilot_sites", **{"filter-lang": "cql2-text", "filter": "problem_code='2026-16'"}) == expected
    cql2_json = {"op": "=", "args": [{"property": "problem_code"}, "2026-16"]}
    assert _codes(ogc, "pilot_sites", **{"filter-lang": "cql2-json", "filter": json.dumps(cql2_json)}) == expected
    assert _codes(ogc, "pilot_sites", problem_code="2026-16") == expected


def test_cql2_logic_like_in_and_spatial(ogc, engine):
    with engine.connect() as conn:
        expected = sorted(conn.execute(text(
            "SELECT code FROM admin_units WHERE level = 'commune' AND (name LIKE 'Đồng%' OR code IN ('05977'))"
        )).scalars())
        near = sorted(conn.execute(text(
            "SELECT code FROM admin_units WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
        ), {"x": HUU_NGHI[0], "y": HUU_NGHI[1] - 0.01}).scalars())
    got = _codes(ogc, "admin_units", filter="level = 'commune' AND (name LIKE 'Đồng%' OR code IN ('05977'))")
    assert got == expected and len(expected) >= 2
    point = f"POINT({HUU_NGHI[0]} {HUU_NGHI[1] - 0.01})"
    assert _codes(ogc, "admin_units", filter=f"S_INTERSECTS(geometry, {point})") == near
    assert _codes(ogc, "border_gates", filter="S_INTERSECTS(geometry, BBOX(106.70, 21.96, 106.72, 21.99))") == [
        "huu_nghi"]


def test_queryables_list_columns_with_types(ogc):
    body = get(f"{ogc}/collections/forest_plots/queryables?f=json")
    assert body.status_code == 404  # internal layer: not for anonymous callers
    q = get(f"{ogc}/collections/border_gates/queryables?f=json").json()["properties"]
    assert q["code"]["type"] == "string" and q["landmarks"]["type"] == "array"
    # the stored geometry type is declared (Features Part 5), so even an empty layer has one
    assert q["geometry"]["format"] == "geometry-point"
    schema = get(f"{ogc}/collections/admin_units/schema?f=json").json()["properties"]
    assert schema["geometry"]["format"] == "geometry-multipolygon"
    assert "geometry" not in get(f"{ogc}/collections/problems/queryables?f=json").json()["properties"]


@pytest.mark.parametrize("params", [
    {"filter": "nope = 'x'"},                                    # unknown property
    {"filter": "(("},                                             # malformed CQL2 text
    {"filter": "name = 'x'; DROP TABLE layers; --"},              # injection attempt
    {"filter": "name = 'x') OR 1=1 --"},
    {"filter-lang": "cql2-json", "filter": "{\"op\": \"=\", \"args\": [{\"property\": \"nope\"}, 1]}"},
    {"filter-lang": "cql2-json", "filter": "{not json"},
    {"filter-lang": "sql", "filter": "1=1"},                      # unknown filter language
    {"sortby": "nope"},
    {"bbox": "1,2,3"},                                            # malformed bbox
    {"bbox": "106,21,abc,22"},
    {"bbox": "107,22,106,21"},                                    # min > max
    {"limit": "-1"},
    {"limit": "10001"},
    {"offset": "-5"},
    {"datetime": "yesterday"},
    {"properties": "name,\"; DROP TABLE layers"},
])
def test_bad_queries_are_400_problem_json_and_harmless(ogc, engine, params):
    before = db_count(engine, "SELECT count(*) FROM admin_units")
    r = get(f"{ogc}/collections/admin_units/items", params=params)
    assert r.status_code == 400, (params, r.status_code, r.text[:300])
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 400 and body["detail"]
    assert "Traceback" not in r.text and "psycopg" not in r.text and "SELECT" not in r.text
    assert db_count(engine, "SELECT count(*) FROM admin_units") == before


# --- Tiles ------------------------------------------------------------------------------------

def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _decode(tmp_path, content: bytes, name: str):
    path = tmp_path / f"{name}.pbf"
    path.write_bytes(content)
    return pyogrio.read_dataframe(path, layer=pyogrio.list_layers(path)[0][0])


def test_vector_tile_has_features_and_attributes(ogc, tmp_path):
    x, y = _tile_of(*HUU_NGHI, 12)
    r = get(f"{ogc}/collections/border_gates/tiles/WebMercatorQuad/12/{y}/{x}?f=mvt")
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    frame = _decode(tmp_path, r.content, "gates")
    assert "Cửa khẩu quốc tế Hữu Nghị" in set(frame["name_vi"])
    meta = get(f"{ogc}/collections/border_gates/tiles?f=json")
    assert meta.status_code == 200 and "WebMercatorQuad" in meta.text


def test_tilejson_for_maplibre_and_qgis(ogc, tmp_path):
    doc = get(f"{ogc}/collections/border_gates/tiles/WebMercatorQuad/tilejson").json()
    assert doc["tilejson"] == "3.0.0" and doc["name"] == "Cửa khẩu biên giới Việt Nam – Trung Quốc"
    assert doc["vector_layers"][0]["fields"]["name_vi"] == "String"
    minx, miny, maxx, maxy = doc["bounds"]
    assert minx < HUU_NGHI[0] < maxx and miny < HUU_NGHI[1] < maxy
    x, y = _tile_of(*HUU_NGHI, 12)
    tile = get(doc["tiles"][0].format(z=12, x=x, y=y))
    frame = _decode(tmp_path, tile.content, "tj")
    assert doc["vector_layers"][0]["id"] == pyogrio.list_layers(tmp_path / "tj.pbf")[0][0]
    assert "huu_nghi" in set(frame["id"]) and doc["vector_layers"][0]["fields"]["id"] == "String"


def test_big_layer_tiles_are_trimmed_at_low_zoom(ogc, keys, tmp_path, engine):
    headers = {"X-API-Key": keys["ranger"]}
    with engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c "
                                     "FROM forest_plots ORDER BY plot_code LIMIT 1) s")).one()
    x, y = _tile_of(lon, lat, 9)
    low = get(f"{ogc}/collections/forest_plots/tiles/WebMercatorQuad/9/{y}/{x}?f=mvt", headers=headers)
    assert low.status_code == 200
    x, y = _tile_of(lon, lat, 14)
    high = get(f"{ogc}/collections/forest_plots/tiles/WebMercatorQuad/14/{y}/{x}?f=mvt", headers=headers)
    assert high.status_code == 200
    low_cols = set(_decode(tmp_path, low.content, "low").columns)
    high_cols = set(_decode(tmp_path, high.content, "high").columns)
    assert {"forest_type", "owner_vi", "species_vi"} <= high_cols
    assert "forest_type" in low_cols and "owner_vi" not in low_cols and "species_vi" not in low_cols
    assert "id" in high_cols and "id" not in low_cols  # an overview below z10: no ids
    x, y = _tile_of(lon, lat, 11)
    mid = get(f"{ogc}/collections/forest_plots/tiles/WebMercatorQuad/11/{y}/{x}?f=mvt", headers=headers)
    mid_cols = set(_decode(tmp_path, mid.content, "mid").columns)
    assert "id" in mid_cols and "owner_vi" not in mid_cols  # ids again from z10, to click a plot


# --- Records: the catalogue -------------------------------------------------------------------

def test_catalogue_search_with_and_without_diacritics(ogc):
    for q in ["biên giới", "bien gioi"]:
        body = get(f"{ogc}/collections/catalogue/items", params={"q": q}).json()
        ids = {f["id"] for f in body["features"]}
        assert {"border_gates", "border_line"} <= ids, q
        assert "border_belt" not in ids  # restricted: invisible to anonymous callers
    record = get(f"{ogc}/collections/catalogue/items/admin_units").json()
    props = record["properties"]
    assert props["license"] == "MIT"
    assert "Sở Nông nghiệp và Môi trường" in props["owner"] and props["update_frequency"] == "asNeeded"
    assert get(f"{ogc}/collections/catalogue/items/border_belt").status_code == 404


# --- real clients -----------------------------------------------------------------------------

def test_gdal_oapif_reads_every_public_collection(ogc, catalog):
    listed = {name for name, _ in pyogrio.list_layers(f"OAPIF:{ogc}")}
    public = {k for k, v in catalog.items() if v.access_level == "public"}
    assert public <= listed and "forest_plots" not in listed and "border_belt" not in listed
    for layer_id in sorted(public):
        frame = pyogrio.read_dataframe(f"OAPIF:{ogc}", layer=layer_id)
        assert len(frame) == catalog[layer_id].feature_count, layer_id
        if catalog[layer_id].has_geometry:
            minx, miny, maxx, maxy = frame.total_bounds
            assert 102 < minx < maxx < 110 and 20 < miny < maxy < 24, layer_id  # lon/lat, not swapped


def test_gdal_oapif_bbox_and_where(ogc, engine):
    frame = pyogrio.read_dataframe(f"OAPIF:{ogc}", layer="admin_units", bbox=(106.7, 21.9, 106.8, 22.0))
    assert 0 < len(frame) < 66
    one = pyogrio.read_dataframe(f"OAPIF:{ogc}", layer="admin_units", where="name = 'Đồng Đăng'")
    assert one["name"].tolist() == ["Đồng Đăng"]


def test_owslib_features_client(ogc):
    from owslib.ogcapi.features import Features

    api = Features(ogc)
    assert "border_gates" in {c["id"] for c in api.collections()["collections"]}
    items = api.collection_items("border_gates", limit=5)
    assert items["numberReturned"] == 5
    assert api.collection_item("border_gates", "huu_nghi")["properties"]["code"] == "huu_nghi"
    q = api.collection_queryables("pilot_sites")
    assert "problem_code" in q["properties"]


def test_gzip_and_cors_come_from_the_app(ogc):
    r = get(f"{ogc}/collections/admin_units/items?limit=5", headers={"Accept-Encoding": "gzip",
                                                                    "Origin": "https://example.org"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["access-control-allow-origin"] == "*"
    pre = httpx.options(f"{ogc}/collections/admin_units/items", timeout=30, headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key"})
    assert pre.status_code == 200 and "x-api-key" in pre.headers["access-control-allow-headers"].lower()


def test_no_debug_server(settings, seeded):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(settings)) as client:
        import pygeoapi.starlette_app as pga

        assert pga.APP.debug is False and client.app.debug is False
