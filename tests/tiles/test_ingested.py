"""From file to tiles: rasters ingested by ``uav_ingest`` (as ``sdi ingest`` does) are served at once,
their band roles taken from the STAC item the ingest wrote."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
from rasterio.transform import from_origin
from sqlalchemy import delete
from sqlalchemy.orm import Session

from sdi.models import RasterItem
from tests.tiles.helpers import geotiff, pixel_of, rgba, tile_of

ingest = pytest.importorskip("uav_ingest.ingest")


def _source(path: Path, bands: np.ndarray, descriptions: list[str] | None = None, alpha: np.ndarray | None = None
            ) -> Path:
    x0, y0 = 448400.0, 2417300.0  # VN-2000 / TM-3 107°15′, near 106.753°E 21.851°N
    count = bands.shape[0] + (alpha is not None)
    with rasterio.open(path, "w", driver="GTiff", width=bands.shape[2], height=bands.shape[1], count=count,
                       dtype=bands.dtype, crs="EPSG:9215", transform=from_origin(x0, y0, 0.1, 0.1)) as ds:
        ds.write(bands, indexes=list(range(1, bands.shape[0] + 1)))
        if alpha is not None:
            ds.write(alpha.astype(bands.dtype), count)
            ds.colorinterp = [rasterio.enums.ColorInterp.red, rasterio.enums.ColorInterp.green,
                              rasterio.enums.ColorInterp.blue, rasterio.enums.ColorInterp.alpha]
        for i, text in enumerate(descriptions or [], start=1):
            ds.set_band_description(i, text)
    return path


def lonlat(src, col: float, row: float) -> tuple[float, float]:
    x, y = src.transform * (col, row)
    lons, lats = rasterio.warp.transform(src.crs, "EPSG:4326", [x], [y])
    return lons[0], lats[0]


@pytest.fixture(scope="module")
def ingested(engine, tiles_settings, rasters, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    seed = os.getpid() % 50
    yy, xx = np.mgrid[0:600, 0:600]
    rgb = np.stack([60 + seed + 0 * xx, 150 + 0 * xx, 50 + (xx // 50)]).astype("uint8")
    alpha = np.where(xx < 500, 255, 0)
    red, nir = 800 + xx, 3000 + yy
    ms = np.stack([500 + xx, 900 + yy, red, 2000 + 0 * xx, nir]).astype("uint16") + seed
    files = {"uav_rgb": _source(folder / "bay.tif", rgb, alpha=alpha),
             "uav_multispectral": _source(folder / "ms.tif", ms, ["Blue", "Green", "Red", "RedEdge", "NIR"])}
    when = dt.datetime(2026, 3, 15, 2, 30, tzinfo=dt.UTC)
    done = {}
    for collection, path in files.items():
        result = ingest.ingest_file(path, collection_id=collection, when=when, engine=engine,
                                    settings=tiles_settings, platform="DJI test")
        assert result.item_id, result
        done[collection] = (result.item_id, path)
    yield done
    with Session(engine) as session:
        session.execute(delete(RasterItem).where(RasterItem.id.in_([i for i, _ in done.values()])))
        session.commit()


def test_an_ingested_orthomosaic_is_served_with_its_mask(client, ingested, auth):
    item_id, source = ingested["uav_rgb"]
    with rasterio.open(source) as src:
        lon, lat = lonlat(src, 100.5, 300.5)
        elon, elat = lonlat(src, 560.5, 300.5)
    tile = tile_of(lon, lat, 20)
    resp = client.get(f"/rasters/{item_id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.png",
                      headers=auth["ranger"])
    assert resp.status_code == 200, resp.text
    pixel = rgba(resp.content)[pixel_of(lon, lat, tile)].astype(int)
    assert pixel[3] == 255 and pixel[1] > pixel[0] + 40  # green, where it was
    far = tile_of(elon, elat, 20)
    edge_tile = client.get(f"/rasters/{item_id}/tiles/WebMercatorQuad/{far.z}/{far.x}/{far.y}.png",
                           headers=auth["ranger"])
    assert edge_tile.status_code == 200 and rgba(edge_tile.content)[pixel_of(elon, elat, far)][3] == 0  # alpha 0
    assert client.get(f"/rasters/{item_id}/info").status_code == 404  # uav_rgb is internal


def test_an_ingested_multispectral_flight_gives_ndvi_from_its_stac_bands(client, ingested, auth):
    item_id, source = ingested["uav_multispectral"]
    with rasterio.open(source) as src:
        data = src.read()
        lon, lat = lonlat(src, 200.5, 300.5)
    tile = tile_of(lon, lat, 19)
    resp = client.get(f"/rasters/{item_id}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}.tif",
                      params={"algorithm": "ndvi"}, headers=auth["ranger"])
    assert resp.status_code == 200, resp.text
    values, _ = geotiff(resp.content)
    red, nir = data[2, 300, 200].astype(float), data[4, 300, 200].astype(float)
    assert values[0][pixel_of(lon, lat, tile)] == pytest.approx((nir - red) / (nir + red), abs=0.003)
