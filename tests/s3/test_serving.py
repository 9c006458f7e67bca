"""A live ``sdi serve`` whose raster store is an S3 bucket (a real SeaweedFS server): tiles and mosaics
read by GDAL ``/vsis3/`` (path-style, signed), the COG download redirected to a presigned URL that
httpx and GDAL read with Range requests, the STAC asset href, an HTTP upload into the bucket."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
import rasterio.warp
from rasterio.transform import from_origin
from rasterio.windows import Window
from sqlalchemy import text

from rasters.environment import gdal_env
from sdi.settings import Settings
from tests.conftest import LiveServer, start_server, stop_server
from tests.s3 import server as weed
from tests.s3.conftest import COLLECTION, PREFIX
from tests.s3.helpers import objects, sdi_env
from tests.s3.server import S3Server
from tests.tiles.helpers import pixel_of, rgba, tile_of
from tests.uav_ingest import rasters
from uav_ingest.ingest import ingest_file

OLD_RGB, NEW_RGB = (60, 150, 50), (170, 110, 70)  # a green field, then bare soil


@dataclass(frozen=True)
class Served:
    server: LiveServer
    settings: Settings
    bucket: str
    old: str  # item ids
    new: str
    source: Path  # the older flight's source file

    def key(self, item_id: str) -> str:
        return f"{PREFIX}/{COLLECTION}/{item_id}.tif"


def _flight(path: Path, rgb: tuple[int, int, int]) -> Path:
    """600 × 400 px at 10 cm near 106.753°E 21.851°N (VN-2000), valid (alpha) on the west 500 columns."""
    data = np.empty((3, 400, 600), np.uint8)
    for band, value in enumerate(rgb):
        data[band] = value
    alpha = np.zeros((400, 600), np.uint8)
    alpha[:, :500] = 255
    with rasterio.open(path, "w", driver="GTiff", width=600, height=400, count=4, dtype="uint8", crs="EPSG:9215",
                       transform=from_origin(448400.0, 2417300.0, 0.1, 0.1), photometric="RGB", alpha="YES") as ds:
        ds.write(data, [1, 2, 3])
        ds.write(alpha, 4)
    return path


def _lonlat(path: Path, col: float, row: float) -> tuple[float, float]:
    with rasterio.open(path) as src:
        x, y = src.transform @ (col, row)
        lons, lats = rasterio.warp.transform(src.crs, "EPSG:4326", [x], [y])
    return lons[0], lats[0]


@pytest.fixture(scope="module")
def served(engine, settings, s3_server: S3Server, s3_collection, tmp_path_factory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("s3-serving")
    bucket = f"sdi-serving-{root.name.rsplit('-', 1)[-1]}"
    weed.create_bucket(s3_server, bucket)
    s3 = settings.model_copy(update={
        "raster_store": f"s3://{bucket}/{PREFIX}", "s3_endpoint_url": s3_server.endpoint,
        "s3_access_key": s3_server.access_key, "s3_secret_key": s3_server.secret_key, "s3_region": weed.REGION,
        "state_dir": root / "state"})
    when = dt.datetime(2026, 3, 1, 2, 30, tzinfo=dt.UTC)
    old_src = _flight(root / "field_march.tif", OLD_RGB)
    old = ingest_file(old_src, collection_id=COLLECTION, when=when, engine=engine, settings=s3)
    new = ingest_file(_flight(root / "field_may.tif", NEW_RGB), collection_id=COLLECTION,
                      when=when + dt.timedelta(days=60), engine=engine, settings=s3)
    assert old.item_id and new.item_id
    live = start_server(s3, sdi_env(s3))
    yield Served(live, s3, bucket, old.item_id, new.item_id, old_src)
    stop_server(live)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM raster_items WHERE collection_id = :c").bindparams(c=COLLECTION))


def _tile_pixel(served: Served, path: str, col: float = 100.5, row: float = 200.5, **params: str) -> np.ndarray:
    lon, lat = _lonlat(served.source, col, row)
    tile = tile_of(lon, lat, 20)
    resp = httpx.get(f"{served.server.url}{path}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png",
                     params=params, timeout=60)
    assert resp.status_code == 200, resp.text + served.server.output()[-3000:]
    return rgba(resp.content)[pixel_of(lon, lat, tile)].astype(int)


def test_item_tiles_are_read_from_the_bucket(served):
    pixel = _tile_pixel(served, f"/rasters/{served.old}")
    assert pixel[3] == 255 and np.abs(pixel[:3] - OLD_RGB).max() <= 6  # the field's colour (JPEG)
    outside = _tile_pixel(served, f"/rasters/{served.old}", col=560.5)
    assert outside[3] == 0  # the alpha mask travelled with the COG
    info = httpx.get(f"{served.server.url}/rasters/{served.old}/info", timeout=60)
    assert info.status_code == 200 and info.json()["count"] == 3 and info.json()["width"] == 600


def test_the_collection_mosaic_reads_every_item_from_the_bucket(served):
    """The mosaic reads its items in rio-tiler's worker threads: the S3 settings must reach them."""
    newest = _tile_pixel(served, f"/rasters/collections/{COLLECTION}/mosaic")
    assert np.abs(newest[:3] - NEW_RGB).max() <= 6  # newest first
    march = _tile_pixel(served, f"/rasters/collections/{COLLECTION}/mosaic", datetime="2026-02-01/2026-03-31")
    assert np.abs(march[:3] - OLD_RGB).max() <= 6


def test_cog_download_redirects_to_a_presigned_url_read_with_ranges(served, s3_server):
    stored = s3_server.client().get_object(Bucket=served.bucket, Key=served.key(served.old))["Body"].read()
    url = f"{served.server.url}/rasters/{served.old}/cog.tif"
    first = httpx.get(url, timeout=30)
    assert first.status_code == 307 and first.headers["cache-control"] == "private, no-store"
    signed = first.headers["location"]
    assert signed.startswith(f"{s3_server.endpoint}/{served.bucket}/{served.key(served.old)}?")  # path-style
    assert "X-Amz-Signature=" in signed and "X-Amz-Expires=900" in signed  # SigV4, 15 minutes
    assert len(stored) > 2000
    part = httpx.get(url, headers={"Range": "bytes=100-1123"}, follow_redirects=True, timeout=30)
    assert part.status_code == 206 and part.content == stored[100:1124]
    assert part.headers["content-range"] == f"bytes 100-1123/{len(stored)}"
    tail = httpx.get(url, headers={"Range": "bytes=-10"}, follow_redirects=True, timeout=30)
    assert tail.status_code == 206 and tail.content == stored[-10:]
    assert part.headers["content-type"].startswith("image/tiff; application=geotiff")
    head = httpx.head(url, follow_redirects=True, timeout=30)  # signed for HEAD, not GET
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(stored)
    assert httpx.get(signed.split("?")[0], timeout=30).status_code == 403  # the bucket itself is not public


def test_gdal_reads_the_cog_through_the_redirect(served):
    window = Window(100, 150, 64, 48)
    with rasterio.Env(**gdal_env(served.settings)), \
            rasterio.open(f"s3://{served.bucket}/{served.key(served.old)}") as direct:
        expected, expected_mask = direct.read(window=window), direct.read_masks(1, window=window)
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), \
            rasterio.open(f"/vsicurl/{served.server.url}/rasters/{served.old}/cog.tif") as remote:
        assert remote.crs.to_epsg() == 9215 and remote.count == 3
        assert np.array_equal(remote.read(window=window), expected)
        assert np.array_equal(remote.read_masks(1, window=window), expected_mask)


def test_stac_item_asset_leads_to_the_stored_cog(served, s3_server):
    resp = httpx.get(f"{served.server.url}/stac/collections/{COLLECTION}/items/{served.new}", timeout=30)
    assert resp.status_code == 200, resp.text
    asset = resp.json()["assets"]["data"]
    assert asset["href"] == f"{served.server.url}/rasters/{served.new}/cog.tif"
    body = httpx.get(asset["href"], follow_redirects=True, timeout=60).content
    assert "1220" + hashlib.sha256(body).hexdigest() == asset["file:checksum"] and len(body) == asset["file:size"]


def test_an_http_upload_lands_in_the_bucket(served, s3_server, keys, tmp_path, engine):
    src = rasters.uav_rgb(tmp_path / "upload_flycam.tif", width=500, height=400, seed=61)
    before = set(objects(s3_server, served.bucket))
    with src.open("rb") as fh:
        resp = httpx.post(f"{served.server.url}/stac/collections/{COLLECTION}/items",
                          params={"datetime": "2026-03-20T08:00:00+07:00"}, files={"file": (src.name, fh)},
                          headers={"X-API-Key": keys["ranger"]}, timeout=180)
    assert resp.status_code == 201, resp.text
    item = resp.json()
    added = set(objects(s3_server, served.bucket)) - before
    assert added == {served.key(item["id"])}
    body = s3_server.client().get_object(Bucket=served.bucket, Key=served.key(item["id"]))["Body"].read()
    assert "1220" + hashlib.sha256(body).hexdigest() == item["assets"]["data"]["file:checksum"]
    assert not [p for p in (served.settings.state_dir / "raster-tmp").rglob("*") if p.is_file()]
    info = httpx.get(f"{served.server.url}/rasters/{item['id']}/info", timeout=60)
    assert info.status_code == 200 and (info.json()["width"], info.json()["height"]) == (500, 400)
