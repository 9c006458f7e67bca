"""Raster fixtures: small COGs like the ones the ingest writes, registered as ``ready`` items.

Until ``sdi ingest`` lands, the COGs are made here with rio-cogeo (``cog_translate``) in a
temporary store and registered with SQLAlchemy, as the ingest would:

- ``rgb_old`` / ``rgb_new``: UAV RGB orthomosaics (uint8, 3 bands, JPEG + internal mask,
  10 cm, EPSG:9215 VN-2000 / TM-3 107°15′) of the same field near 106.75°E 21.85°N, flown on
  two dates; valid data is a disc (the mask), vegetation on the west half, bare soil on the
  east; the newer flight is shifted 40 m east and brighter, so the mosaic shows which is which;
- ``ms``: a multispectral flight (uint16, blue, green, red, red edge, NIR; nodata 0, ZSTD),
  band roles only in its STAC (``eo:bands``), smooth so NDVI can be checked pixel by pixel;
- ``secret``: an RGB item of a *restricted* collection of the border guard (``bdbp``);
- ``pending``: a row still ``pending`` (its file exists): never served.

Collections: ``tiles_test_uav`` (public), ``tiles_test_ms`` (internal), ``tiles_test_border``
(restricted). Rows and files are removed at the end.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.warp
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles
from shapely.geometry import MultiPolygon, box
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from api.app import create_app
from sdi.models import RasterCollection, RasterItem
from tests.conftest import LiveServer, start_server, stop_server

RUN = os.getpid()
ORIGIN = (106.75, 21.85)  # lon/lat of the fields' north-west corner
GSD = 0.1
SIZE = 1024  # pixels: 102.4 m
MS_SIZE = 512
MS_GSD = 0.2

COLLECTIONS = {
    "tiles_test_uav": ("rgb", "public", "kiemlam"),
    "tiles_test_ms": ("multispectral", "internal", "kiemlam"),
    "tiles_test_border": ("rgb", "restricted", "bdbp"),
}


@dataclass(frozen=True)
class Raster:
    """A registered test raster: its id, file and what was written into it."""

    id: str
    collection: str
    path: Path
    data: np.ndarray  # as written (before JPEG)
    valid: np.ndarray  # bool, True where data is valid
    transform: rasterio.Affine
    datetime: dt.datetime

    def lonlat(self, row: int, col: int) -> tuple[float, float]:
        """The lon/lat of the centre of pixel (row, col)."""
        x, y = self.transform * (col + 0.5, row + 0.5)
        return Transformer.from_crs(9215, 4326, always_xy=True).transform(x, y)


def _origin(dx_m: float = 0.0) -> tuple[float, float]:
    x, y = Transformer.from_crs(4326, 9215, always_xy=True).transform(*ORIGIN)
    return x + dx_m, y


def _write_cog(path: Path, data: np.ndarray, transform, profile_name: str, *, mask: np.ndarray | None = None,
               nodata: int | None = None) -> None:
    count, height, width = data.shape
    src_profile = dict(driver="GTiff", width=width, height=height, count=count, dtype=data.dtype.name,
                       crs="EPSG:9215", transform=transform, nodata=nodata)
    profile = cog_profiles.get(profile_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with MemoryFile() as mem:
        with mem.open(**src_profile) as ds:
            ds.write(data)
            if mask is not None:
                ds.write_mask(mask.astype("uint8") * 255)
        with mem.open() as src:
            if profile_name == "zstd":
                profile.update(predictor=2)
            cog_translate(src, str(path), profile, in_memory=True, quiet=True, add_mask=mask is not None,
                          overview_resampling="average")


def _disc(size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2
    return (xx - c) ** 2 + (yy - c) ** 2 <= (0.45 * size) ** 2


def _rgb(brighter: int) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    west = xx < SIZE // 2
    ripple = ((xx // 16 + yy // 16) % 2 * 12).astype(np.int16)
    r = np.where(west, 60, 150) + ripple + brighter
    g = np.where(west, 150, 110) + ripple + brighter
    b = np.where(west, 50, 70) + ripple + brighter
    return np.clip(np.stack([r, g, b]), 0, 255).astype("uint8")


def _multispectral() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:MS_SIZE, 0:MS_SIZE].astype("float64")
    red = 800 + 2 * xx  # brighter red to the east
    nir = 4000 - 4 * yy  # less NIR to the south
    blue, green, edge = 500 + xx, 900 + yy, 2000 + xx + yy
    data = np.stack([blue, green, red, edge, nir]).astype("uint16")
    valid = np.ones((MS_SIZE, MS_SIZE), bool)
    valid[:, :32] = False  # a strip without data (nodata 0)
    data[:, ~valid] = 0
    return data, valid


def _footprint(path: Path) -> str:
    with rasterio.open(path) as ds:
        left, bottom, right, top = rasterio.warp.transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    return MultiPolygon([box(left, bottom, right, top)]).wkt


def _stac(item_id: str, collection: str, bands: list[str] | None, footprint_wkt: str, when: dt.datetime) -> dict:
    """A complete (small) STAC item, as ingest writes one: other tests search all collections."""
    import shapely

    shape = shapely.from_wkt(footprint_wkt)
    asset: dict = {"href": f"{item_id}.tif", "roles": ["data"]}
    if bands:
        asset["eo:bands"] = [{"name": name, "common_name": name} for name in bands]
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": collection,
            "geometry": shapely.geometry.mapping(shape), "bbox": list(shape.bounds),
            "properties": {"datetime": when.isoformat()}, "links": [], "assets": {"data": asset}}


@pytest.fixture(scope="session")
def raster_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("raster-store")


@pytest.fixture(scope="session")
def rasters(engine, seeded, raster_store: Path) -> Iterator[dict[str, Raster]]:
    """The test rasters, written and registered for the session; removed afterwards."""
    made: dict[str, Raster] = {}
    rows: list[RasterItem] = []

    def add(name: str, collection: str, data, valid, transform, when, profile, *, mask=True, nodata=None,
            bands=("red", "green", "blue"), status="ready", stac_bands=False) -> None:
        item_id = f"{name}-{RUN}"
        href = f"{collection}/{when:%Y/%m/%d}/{item_id}.tif"
        path = raster_store / href
        _write_cog(path, data, transform, profile, mask=valid if mask else None, nodata=nodata)
        made[name] = Raster(item_id, collection, path, data, valid, transform, when)
        with rasterio.open(path) as ds:
            width, height, count = ds.width, ds.height, ds.count
        rows.append(RasterItem(
            id=item_id, collection_id=collection, datetime=when, status=status,
            source_sha256=f"{RUN:08x}{name:0>56}"[:64], href=href, size_bytes=path.stat().st_size,
            platform="DJI test", gsd_m=transform.a, epsg=9215, width=width, height=height, band_count=count,
            stac=_stac(item_id, collection, list(bands) if stac_bands else None, _footprint(path), when),
            footprint=f"SRID=4326;{_footprint(path)}"))

    at = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    disc = _disc(SIZE)
    add("rgb_old", "tiles_test_uav", _rgb(0), disc, from_origin(*_origin(), GSD, GSD), at, "jpeg")
    add("rgb_new", "tiles_test_uav", _rgb(60), disc, from_origin(*_origin(40.0), GSD, GSD),
        at + dt.timedelta(days=45), "jpeg")
    ms, ms_valid = _multispectral()
    add("ms", "tiles_test_ms", ms, ms_valid, from_origin(*_origin(), MS_GSD, MS_GSD), at + dt.timedelta(days=1),
        "zstd", mask=False, nodata=0, bands=("blue", "green", "red", "rededge", "nir"), stac_bands=True)
    add("secret", "tiles_test_border", _rgb(0), disc, from_origin(*_origin(), GSD, GSD), at, "jpeg")
    add("pending", "tiles_test_uav", _rgb(0), disc, from_origin(*_origin(), GSD, GSD),
        at + dt.timedelta(days=90), "jpeg", status="pending")

    with Session(engine) as session:
        for cid, (kind, access, owner) in COLLECTIONS.items():
            session.merge(RasterCollection(id=cid, title_vi=f"Ảnh thử {cid}", title_en=f"Test rasters {cid}",
                                           description_vi="Ảnh thử nghiệm", description_en="Test rasters",
                                           keywords=["test"], owner=owner, licence="CC-BY-4.0",
                                           access_level=access, kind=kind))
        session.flush()
        session.add_all(rows)
        session.commit()
    yield made
    with Session(engine) as session:
        session.execute(delete(RasterItem).where(RasterItem.collection_id.in_(COLLECTIONS)))
        session.execute(delete(RasterCollection).where(RasterCollection.id.in_(COLLECTIONS)))
        session.execute(text("DELETE FROM access_log WHERE layer_id = ANY(:ids)").bindparams(ids=list(COLLECTIONS)))
        session.commit()


@pytest.fixture(scope="session")
def tiles_settings(settings, raster_store: Path):
    return settings.model_copy(update={"raster_store": str(raster_store)})


@pytest.fixture(scope="session")
def client(tiles_settings, rasters) -> Iterator[TestClient]:
    """The application in-process, reading the test store."""
    with TestClient(create_app(tiles_settings)) as c:
        yield c


@pytest.fixture(scope="session")
def tiles_server(settings, rasters, raster_store: Path) -> Iterator[LiveServer]:
    """A real ``sdi serve`` reading the test store (GDAL /vsicurl/, QGIS)."""
    server = start_server(settings, {"SDI_RASTER_STORE": str(raster_store)})
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def auth(keys) -> dict[str, dict[str, str]]:
    """Request headers of each kind of caller."""
    return {"anonymous": {}, **{who: {"X-API-Key": key} for who, key in keys.items()}}
