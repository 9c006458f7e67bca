"""The COG files over HTTP with Range requests, read by GDAL's ``/vsicurl/`` against a real server."""

from __future__ import annotations

import httpx
import numpy as np
import rasterio
from rasterio.windows import Window

from tests.tiles.helpers import is_problem, rgba, tile_of


def cog_url(server, item) -> str:
    return f"{server.url}/rasters/{item.id}/cog.tif"


def test_head_and_ranges(tiles_server, rasters):
    item = rasters["rgb_old"]
    data = item.path.read_bytes()
    head = httpx.head(cog_url(tiles_server, item), timeout=30)
    assert head.status_code == 200 and head.headers["accept-ranges"] == "bytes"
    assert int(head.headers["content-length"]) == len(data) and head.content == b""
    assert head.headers["content-type"].startswith("image/tiff")
    part = httpx.get(cog_url(tiles_server, item), headers={"Range": "bytes=100-16483"}, timeout=30)
    assert part.status_code == 206 and part.content == data[100:16484]
    assert part.headers["content-range"] == f"bytes 100-16483/{len(data)}"
    assert int(part.headers["content-length"]) == 16384 and "content-encoding" not in part.headers
    tail = httpx.get(cog_url(tiles_server, item), headers={"Range": "bytes=-10"}, timeout=30)
    assert tail.status_code == 206 and tail.content == data[-10:]
    # the whole file, even for a client accepting gzip: not re-compressed, length announced
    whole = httpx.get(cog_url(tiles_server, item), headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert whole.status_code == 200 and whole.content == data and "content-encoding" not in whole.headers
    assert int(whole.headers["content-length"]) == len(data)
    beyond = httpx.get(cog_url(tiles_server, item), headers={"Range": f"bytes={len(data) + 10}-"}, timeout=30)
    assert beyond.status_code == 416
    again = httpx.get(cog_url(tiles_server, item), headers={"Range": "bytes=0-9", "If-Range": head.headers["etag"]},
                      timeout=30)
    assert again.status_code == 206


def test_gdal_vsicurl_reads_a_window_through_the_server(tiles_server, rasters):
    item = rasters["rgb_old"]
    window = Window(300, 400, 64, 48)
    with rasterio.open(item.path) as local:
        expected, expected_mask = local.read(window=window), local.read_masks(1, window=window)
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", CPL_VSIL_CURL_ALLOWED_EXTENSIONS=".tif"), \
            rasterio.open(f"/vsicurl/{cog_url(tiles_server, item)}") as remote:
        assert remote.crs.to_epsg() == 9215 and remote.count == 3 and remote.overviews(1) == [2]
        assert np.array_equal(remote.read(window=window), expected)
        assert np.array_equal(remote.read_masks(1, window=window), expected_mask)
        overview = remote.read(1, out_shape=(256, 256))  # from the overview: a few ranges only
        assert overview.std() > 5


def test_gdal_reads_an_internal_item_with_a_key(tiles_server, rasters, keys):
    item = rasters["ms"]
    url = f"/vsicurl/{cog_url(tiles_server, item)}"
    with rasterio.open(item.path) as local:
        expected = local.read(5, window=Window(0, 0, 100, 100))
    with rasterio.Env(GDAL_HTTP_HEADERS=f"X-API-Key: {keys['ranger']}", GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), \
            rasterio.open(url) as remote:
        assert np.array_equal(remote.read(5, window=Window(0, 0, 100, 100)), expected)
    anonymous = httpx.get(cog_url(tiles_server, item), headers={"Range": "bytes=0-99"}, timeout=30)
    assert is_problem(anonymous, 404)


def test_tiles_over_the_real_server(tiles_server, rasters):
    item = rasters["rgb_old"]
    tj = httpx.get(f"{tiles_server.url}/rasters/{item.id}/WebMercatorQuad/tilejson.json", timeout=30).json()
    assert tj["tiles"][0].startswith(tiles_server.url)
    t = tile_of(*item.lonlat(512, 300), 20)
    resp = httpx.get(tj["tiles"][0].format(z=t.z, x=t.x, y=t.y), timeout=30)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    assert resp.headers["cache-control"].startswith("public") and "X-API-Key" in resp.headers["vary"]
    assert rgba(resp.content)[..., 3].max() == 255
