"""The STAC API at /stac: documents, access rule, search and paging, in-process and with pystac-client
against a real server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pystac_client import Client
from sqlalchemy import text

from api.app import create_app
from tests.uav_ingest import rasters
from uav_ingest.ingest import ingest_file, parse_when

S2_SCENES = {  # name: (centre, datetime)
    "S2_scene_jan": ((106.90, 21.95), "2026-01-10T03:30:00Z"),
    "S2_scene_feb": ((106.55, 21.75), "2026-02-10T03:30:00Z"),
    "S2_scene_mar": ((106.80, 21.60), "2026-03-10T03:30:00Z"),
}


@pytest.fixture(scope="module")
def stac_items(engine, settings, seeded, tmp_path_factory) -> Iterator[dict[str, str]]:
    """Items in public, internal and restricted collections, ingested for this module."""
    tmp = tmp_path_factory.mktemp("stac")
    ingest_settings = settings.model_copy(update={"raster_store": str(tmp / "store")})
    made: dict[str, str] = {}

    def add(name: str, path: Path, collection: str, when: str) -> None:
        result = ingest_file(path, collection_id=collection, when=parse_when(when), engine=engine,
                             settings=ingest_settings, platform="test")
        made[name] = result.item_id

    for name, (centre, when) in S2_SCENES.items():
        add(name, rasters.sentinel2_like(tmp / f"{name}.tif", centre=centre), "sentinel2_l2a", when)
    add("dem", rasters.dem(tmp / "dem.tif", width=300, height=300), "dem", "2026-01-01")
    add("rgb", rasters.uav_rgb(tmp / "rgb.tif", width=600, height=500, seed=41), "uav_rgb", "2026-03-15T09:00")
    add("border", rasters.uav_rgb(tmp / "border.tif", width=600, height=500, seed=42), "uav_border", "2026-03-16")
    yield made
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM raster_items WHERE id = ANY(:ids)").bindparams(ids=list(made.values())))


@pytest.fixture(scope="module")
def client(settings, stac_items) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def auth(keys: dict, role: str) -> dict[str, str]:
    return {} if role == "anonymous" else {"X-API-Key": keys[role]}


def test_landing_page_and_conformance(client):
    body = client.get("/stac").json()
    assert body["type"] == "Catalog" and body["stac_version"] == "1.1.0"
    for cls in ("core", "item-search", "collections", "ogcapi-features"):
        assert f"https://api.stacspec.org/v1.0.0/{cls}" in body["conformsTo"]
    rels = {(link["rel"], link.get("method")) for link in body["links"]}
    assert {("conformance", None), ("data", None), ("search", "GET"), ("search", "POST")} <= rels
    assert client.get("/stac/conformance").json()["conformsTo"] == body["conformsTo"]
    children = {link["href"].rsplit("/", 1)[1] for link in body["links"] if link["rel"] == "child"}
    assert {"sentinel2_l2a", "dem"} <= children and "uav_rgb" not in children


@pytest.mark.parametrize(("role", "sees", "hidden"), [
    ("anonymous", {"sentinel2_l2a", "dem", "land_cover"}, {"uav_rgb", "uav_multispectral", "uav_border"}),
    ("planner", {"sentinel2_l2a", "uav_rgb", "uav_multispectral"}, {"uav_border"}),
    ("ranger", {"uav_rgb", "uav_multispectral"}, {"uav_border"}),
    ("border", {"uav_rgb", "uav_border", "dem"}, set()),
])
def test_collections_follow_the_access_rule(client, keys, stac_items, role, sees, hidden):
    headers = auth(keys, role)
    listed = {c["id"]: c for c in client.get("/stac/collections", headers=headers).json()["collections"]}
    assert sees <= set(listed) and not hidden & set(listed)
    for cid in hidden:
        for path in (f"/stac/collections/{cid}", f"/stac/collections/{cid}/items",
                     f"/stac/collections/{cid}/items/{stac_items['border']}"):
            r = client.get(path, headers=headers)
            assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", path
    found = client.get("/stac/search", params={"ids": ",".join(stac_items.values()), "limit": 100},
                       headers=headers).json()
    ids = {f["id"] for f in found["features"]}
    assert (stac_items["rgb"] in ids) == ("uav_rgb" in sees)
    assert (stac_items["border"] in ids) == ("uav_border" in sees)


def test_wrong_key_is_401(client):
    r = client.get("/stac/collections", headers={"X-API-Key": "sdi_deadbeef_" + "x" * 40})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def test_collection_document(client, stac_items):
    c = client.get("/stac/collections/sentinel2_l2a").json()
    assert c["type"] == "Collection" and c["license"] == "other" and "Sentinel-2" in c["title"]
    assert c["sdi:item_count"] == 3 and c["sdi:owner"] == "snnmt"
    (start, end), = c["extent"]["temporal"]["interval"]
    assert start.startswith("2026-01-10") and end.startswith("2026-03-10")
    (bbox,) = c["extent"]["spatial"]["bbox"]
    assert 106.5 < bbox[0] < bbox[2] < 107.0 and 21.5 < bbox[1] < bbox[3] < 22.0
    assert "Sở Nông nghiệp và Môi trường" in c["providers"][0]["name"]


def test_items_page_with_next_links_newest_first(client, stac_items):
    url, seen = "/stac/collections/sentinel2_l2a/items?limit=1", []
    while url:
        body = client.get(url).json()
        assert body["numberMatched"] == 3 and body["numberReturned"] == 1
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert seen == [stac_items["S2_scene_mar"], stac_items["S2_scene_feb"], stac_items["S2_scene_jan"]]


def test_item_has_server_urls(client, stac_items):
    item_id = stac_items["dem"]
    r = client.get(f"/stac/collections/dem/items/{item_id}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    item = r.json()
    assert item["assets"]["data"]["href"] == f"http://testserver/rasters/{item_id}/cog.tif"
    links = {link["rel"]: link["href"] for link in item["links"]}
    assert links["xyz"] == f"http://testserver/rasters/{item_id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
    assert links["self"] == f"http://testserver/stac/collections/dem/items/{item_id}"
    assert links["collection"].endswith("/stac/collections/dem")
    assert client.get("/stac/collections/dem/items/khong-co").status_code == 404


def test_search_filters(client, stac_items):
    def ids(**params) -> set[str]:
        r = client.get("/stac/search", params={"collections": "sentinel2_l2a,dem", **params})
        assert r.status_code == 200, r.text
        return {f["id"] for f in r.json()["features"]}

    jan, feb, mar = (stac_items[k] for k in S2_SCENES)
    assert ids(bbox="106.85,21.9,106.95,22.0") == {jan}
    assert ids(datetime="2026-02-01T00:00:00Z/2026-03-31T00:00:00Z") == {feb, mar}
    assert ids(datetime="../2026-01-05T00:00:00Z") == {stac_items["dem"]}
    assert ids(datetime="2026-03-10T03:30:00Z") == {mar}
    assert ids(ids=f"{feb},{stac_items['dem']}") == {feb, stac_items["dem"]}
    point = {"type": "Point", "coordinates": [106.55, 21.75]}
    r = client.post("/stac/search", json={"intersects": point, "collections": ["sentinel2_l2a"]})
    assert {f["id"] for f in r.json()["features"]} == {feb}
    r = client.get("/stac/search", params={"intersects": '{"type":"Point","coordinates":[106.8,21.6]}',
                                           "collections": "sentinel2_l2a"})
    assert {f["id"] for f in r.json()["features"]} == {mar}


def test_post_search_pages_by_token(client, stac_items):
    body, seen = {"collections": ["sentinel2_l2a"], "limit": 2}, []
    while body is not None:
        page = client.post("/stac/search", json=body).json()
        seen += [f["id"] for f in page["features"]]
        nxt = next((link for link in page["links"] if link["rel"] == "next"), None)
        assert nxt is None or (nxt["method"] == "POST" and nxt["body"]["limit"] == 2)
        body = nxt["body"] if nxt else None
    assert len(seen) == 3 and set(seen) == {stac_items[k] for k in S2_SCENES}


@pytest.mark.parametrize("params", [
    {"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"bbox": "107,22,106,21"}, {"bbox": "0,0,200,10"},
    {"datetime": "hôm qua"}, {"datetime": "2026-03-01T00:00:00Z/2026-01-01T00:00:00Z"},
    {"limit": "0"}, {"limit": "mười"}, {"token": "!!!"}, {"intersects": "{not json"},
    {"intersects": '{"type": "Polygon", "coordinates": 5}'},
])
def test_bad_search_parameters_are_400(client, params):
    r = client.get("/stac/search", params=params)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", r.text
    assert " / " in r.json()["detail"]


def test_bad_post_bodies_are_400(client):
    assert client.post("/stac/search", content=b"{nope", headers={"content-type": "application/json"}
                       ).status_code == 400
    assert client.post("/stac/search", json=[1, 2]).status_code == 400
    r = client.post("/stac/search", json={"bbox": [106, 21, 107, 22], "intersects": {"type": "Point",
                                                                                      "coordinates": [106.5, 21.5]}})
    assert r.status_code == 400 and "bbox" in r.json()["detail"]


def test_huge_limit_is_capped(client):
    r = client.get("/stac/search", params={"limit": "100000"})
    assert r.status_code == 200 and r.json()["numberReturned"] <= 1000


# --- pystac-client against a real server ------------------------------------------------------


def test_pystac_client_reads_the_catalogue(live_server, stac_items):
    catalog = Client.open(f"{live_server.url}/stac")
    assert catalog.conforms_to("ITEM_SEARCH") and catalog.conforms_to("COLLECTIONS")
    ids = {c.id for c in catalog.get_collections()}
    assert {"sentinel2_l2a", "dem"} <= ids and "uav_rgb" not in ids
    search = catalog.search(collections=["sentinel2_l2a"], bbox=[106.4, 21.5, 107.0, 22.0],
                            datetime="2026-02-01/2026-03-31")
    found = {item.id for item in search.items()}
    assert found == {stac_items["S2_scene_feb"], stac_items["S2_scene_mar"]}
    item = catalog.get_collection("sentinel2_l2a").get_item(stac_items["S2_scene_jan"])
    assert item is not None and item.datetime == dt.datetime(2026, 1, 10, 3, 30, tzinfo=dt.UTC)
    assert item.assets["data"].href == f"{live_server.url}/rasters/{item.id}/cog.tif"
    assert [b["common_name"] for b in item.assets["data"].extra_fields["eo:bands"]] == ["blue", "green", "red",
                                                                                          "nir"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_pystac_client_pages_through_results(live_server, stac_items, method):
    catalog = Client.open(f"{live_server.url}/stac")
    search = catalog.search(collections=["sentinel2_l2a"], limit=1, method=method)
    pages = list(search.pages_as_dicts())
    assert len(pages) == 3 and all(len(p["features"]) == 1 for p in pages)
    assert search.matched() == 3
    assert [p["features"][0]["id"] for p in pages] == [stac_items[k] for k in reversed(S2_SCENES)]


def test_pystac_client_with_a_key_sees_internal_collections(live_server, keys, stac_items):
    catalog = Client.open(f"{live_server.url}/stac", headers={"X-API-Key": keys["ranger"]})
    assert "uav_rgb" in {c.id for c in catalog.get_collections()}
    items = list(catalog.search(collections=["uav_rgb"], ids=[stac_items["rgb"]]).items())
    assert [i.id for i in items] == [stac_items["rgb"]]
    assert items[0].properties["gsd"] == pytest.approx(0.05)
    assert list(catalog.search(collections=["uav_border"]).items()) == []  # not the ranger's
    r = httpx.get(f"{live_server.url}/stac/collections/uav_border", headers={"X-API-Key": keys["ranger"]})
    assert r.status_code == 404
