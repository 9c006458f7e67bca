"""Rasters and the access rule: hidden items are 404 on every door, exactly like unknown ones; a
caller never chooses a file (no ``url=``, no paths in ids, stored paths kept inside the store);
restricted reads are audited; oversized requests are refused."""

from __future__ import annotations

import datetime as dt
import http.client
from urllib.parse import urlparse

import pytest
import rasterio
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from sdi.models import RasterItem
from tests.tiles.helpers import is_problem, tile_of

FEATURE = {"type": "Feature", "properties": {},
           "geometry": {"type": "Polygon", "coordinates": [[[106.7502, 21.8492], [106.7505, 21.8492],
                                                            [106.7505, 21.8496], [106.7502, 21.8496],
                                                            [106.7502, 21.8492]]]}}


def doors(item_id: str) -> list[tuple[str, str]]:
    """Every raster route of one item (method, path)."""
    t = tile_of(106.7503, 21.8495, 19)
    base = f"/rasters/{item_id}"
    return [("GET", f"{base}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"), ("GET", f"{base}/tiles/WebMercatorQuad/"
            f"{t.z}/{t.x}/{t.y}"), ("GET", f"{base}/WebMercatorQuad/tilejson.json"), ("GET", f"{base}/tiles"),
            ("GET", f"{base}/tiles/WebMercatorQuad"), ("GET", f"{base}/info"), ("GET", f"{base}/info.geojson"),
            ("GET", f"{base}/statistics"), ("POST", f"{base}/statistics"), ("GET", f"{base}/point/106.7503,21.8495"),
            ("GET", f"{base}/preview.png"), ("GET", f"{base}/bbox/106.7502,21.8492,106.7505,21.8496.png"),
            ("POST", f"{base}/feature.png"), ("GET", f"{base}/WMTSCapabilities.xml"),
            ("GET", f"{base}/WebMercatorQuad/map.html"), ("GET", f"{base}/cog.tif"), ("HEAD", f"{base}/cog.tif")]


def call(client, method: str, path: str, headers: dict | None = None, **kw):
    if method == "POST":
        return client.post(path, json=FEATURE, headers=headers or {}, **kw)
    return client.request(method, path, headers=headers or {}, **kw)


MATRIX = {  # item → callers who see it (others: 404)
    "rgb_old": {"anonymous", "admin", "border", "ranger", "planner"},  # public
    "ms": {"admin", "border", "ranger", "planner"},  # internal
    "secret": {"admin", "border"},  # restricted, owned by the border guard
}


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_every_door_follows_the_access_rule(client, rasters, auth, name):
    item = rasters[name]
    for who, headers in auth.items():
        for method, path in doors(item.id):
            resp = call(client, method, path, headers)
            if who in MATRIX[name]:
                assert resp.status_code == 200, (who, method, path, resp.text[:300])
            else:
                assert resp.status_code == 404, (who, method, path, resp.status_code)
                if method != "HEAD":
                    unknown = call(client, method, path.replace(item.id, "no-such-item"), headers)
                    assert is_problem(resp, 404) and is_problem(unknown, 404), (who, path)
                    assert resp.json()["title"] == unknown.json()["title"]  # hidden looks like unknown


def test_collection_mosaics_follow_the_access_rule(client, rasters, auth):
    for collection, seen_by in (("tiles_test_uav", MATRIX["rgb_old"]), ("tiles_test_ms", MATRIX["ms"]),
                                ("tiles_test_border", MATRIX["secret"])):
        for who, headers in auth.items():
            resp = client.get(f"/rasters/collections/{collection}/mosaic/WebMercatorQuad/tilejson.json",
                              headers=headers)
            assert resp.status_code == (200 if who in seen_by else 404), (collection, who)
    assert is_problem(client.get("/rasters/collections/nope/mosaic/WebMercatorQuad/tilejson.json"), 404)


def test_bad_key_is_401_with_a_challenge(client, rasters):
    resp = client.get(f"/rasters/{rasters['rgb_old'].id}/info", headers={"X-API-Key": "sdi_00000000_" + "x" * 43})
    assert is_problem(resp, 401) and "Basic" in resp.headers["www-authenticate"]


def test_pending_items_are_never_served(client, rasters, auth):
    for method, path in doors(rasters["pending"].id):
        assert call(client, method, path, auth["admin"]).status_code == 404, path


def test_restricted_reads_are_audited(client, rasters, auth, engine, keys):
    item = rasters["secret"]
    t = tile_of(*item.lonlat(512, 300), 20)
    path = f"/rasters/{item.id}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
    assert client.get(path, headers=auth["border"]).status_code == 200
    assert client.get(path, headers=auth["ranger"]).status_code == 404
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT key_name, action, status, path FROM access_log WHERE layer_id = "
                                 "'tiles_test_border' AND path = :p").bindparams(p=path)).all()
    assert [(r.key_name.startswith("border-guard"), r.action, r.status) for r in rows] == [(True, "read", 200)]


# --- no file chosen by the caller ----------------------------------------------------------------

@pytest.fixture()
def opened(monkeypatch) -> list[str]:
    """Every path rasterio is asked to open during the test (the server is in-process)."""
    seen: list[str] = []
    real = rasterio.open

    def spy(fp, *args, **kwargs):
        seen.append(str(fp))
        return real(fp, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", spy)
    return seen


@pytest.mark.parametrize("param", ["url", "path", "href"])
def test_url_and_path_parameters_are_refused_and_nothing_is_read(client, rasters, opened, param):
    item = rasters["rgb_old"]
    for target in ("/etc/passwd", "file:///etc/passwd", "/vsicurl/http://169.254.169.254/", str(item.path)):
        for method, path in doors(item.id) + [("GET", "/rasters/collections/tiles_test_uav/mosaic/tiles/"
                                                      "WebMercatorQuad/19/0/0.png")]:
            resp = call(client, method, path, params={param: target})
            assert resp.status_code == 400, (path, resp.status_code)
            if method != "HEAD":
                assert is_problem(resp, 400) and "root:" not in resp.text
    assert opened == []
    # TiTiler's own open routes do not exist here
    for path in ("/cog/info", "/cog/tiles/WebMercatorQuad/0/0/0", "/rasters/info", "/mosaicjson/info"):
        assert client.get(path, params={"url": "/etc/passwd"}).status_code in (400, 404)
    assert opened == []


def test_path_tricks_in_ids_are_404_or_400_and_read_nothing(client, tiles_server, rasters, opened, auth):
    for bad in ("..", "...", "%2e%2e", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "rgb_old%00", "~root",
                ".hidden", "a%5C..%5Cb", "C:%5Cwindows"):
        for suffix in ("info", "cog.tif", "tiles/WebMercatorQuad/0/0/0.png"):
            resp = client.get(f"/rasters/{bad}/{suffix}", headers=auth["admin"])
            assert resp.status_code in (400, 404), (bad, suffix, resp.status_code)
            assert "root:" not in resp.text
    assert opened == []
    # raw request lines, not normalised by any client, against the real server
    host = urlparse(tiles_server.url)
    for raw in ("/rasters/../../etc/passwd/cog.tif", "/rasters/..%2f..%2fetc%2fpasswd/cog.tif",
                "/rasters/%2e%2e/%2e%2e/etc/passwd", f"/rasters/{rasters['rgb_old'].id}/../../../etc/passwd",
                "/rasters/collections/..%2f..%2f/mosaic/info"):
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        conn.putrequest("GET", raw, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        assert resp.status in (400, 404), (raw, resp.status)
        assert b"root:" not in body


def test_a_stored_href_outside_the_store_is_never_opened(client, engine, rasters, opened, auth):
    """Even a broken row (``href`` leaving the store root) is a 404 and no file is opened."""
    bad = {"escape": "../../../../etc/passwd", "absolute": "/etc/passwd", "backslash": "..\\..\\etc\\passwd"}
    with Session(engine) as session:
        for name, href in bad.items():
            session.add(RasterItem(id=f"broken-{name}", collection_id="tiles_test_uav", status="ready",
                                   datetime=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), source_sha256=f"broken-{name}",
                                   href=href, band_count=3))
        session.commit()
    try:
        for name in bad:
            for method, path in doors(f"broken-{name}"):
                assert call(client, method, path, auth["admin"]).status_code == 404, path
        assert opened == []
    finally:
        with Session(engine) as session:
            session.execute(delete(RasterItem).where(RasterItem.id.in_([f"broken-{n}" for n in bad])))
            session.commit()


def test_oversized_requests_are_refused(client, rasters, tiles_settings):
    item = rasters["rgb_old"]
    t = tile_of(*item.lonlat(512, 300), 20)
    for params in ({"tilesize": 5000}, {"buffer": 1000}, {"padding": 1000}):
        resp = client.get(f"/rasters/{item.id}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png", params=params)
        assert is_problem(resp, 400), params
    assert is_problem(client.get(f"/rasters/{item.id}/bbox/106.7,21.8,106.8,21.9/9000x9000.png"), 400)
    assert is_problem(client.get(f"/rasters/{item.id}/bbox/106.7,21.8,106.8,21.9.png",
                                 params={"max_size": 20000}), 400)
    # negative or zero sizes (found by schemathesis: a negative height reached rasterio as a 500)
    for params in ({"height": -9887267}, {"width": 0}, {"buffer": -1}):
        assert is_problem(client.get("/rasters/colorMaps/brg", params={**params, "f": "png"}), 400), params
        assert is_problem(client.get(f"/rasters/{item.id}/preview.png", params=params), 400), params
    huge = b'{"type": "Feature", "properties": {"pad": "' + b"x" * (tiles_settings.ogc_max_body_bytes + 10) + b'"}}'
    resp = client.post(f"/rasters/{item.id}/feature.png", content=huge, headers={"Content-Type": "application/json"})
    assert is_problem(resp, 413)
