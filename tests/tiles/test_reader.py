"""The tile path's caches give rio-tiler's own answers, and let go of what changes."""

from __future__ import annotations

import time

import morecantile
import numpy as np
import pytest
from rio_tiler.io import Reader
from rio_tiler.utils import get_vrt_transform
from sqlalchemy import update
from sqlalchemy.orm import Session

from rasters import items as store
from rasters.items import ITEM_TTL_S
from sdi.models import RasterItem
from tests.tiles.helpers import tile_of
from tiles import reader
from tiles.reader import ItemReader

TMS = morecantile.tms.get("WebMercatorQuad")


def test_tile_exists_agrees_with_rio_tiler_around_the_raster(rasters):
    """Every tile of a ring around the raster's edges, at z15–z20: same in/out answer as rio-tiler."""
    path = str(rasters["rgb_old"].path)
    with Reader(path) as plain:
        west, south, east, north = plain.get_geographic_bounds(TMS.rasterio_geographic_crs)
    checked = inside = 0
    for z in range(15, 21):
        for lon in np.linspace(west - 0.0005, east + 0.0005, 9):
            for lat in np.linspace(south - 0.0005, north + 0.0005, 9):
                t = tile_of(float(lon), float(lat), z)
                with Reader(path) as plain, ItemReader(path) as cached:
                    expected = Reader.tile_exists(plain, t.x, t.y, t.z)
                    assert cached.tile_exists(t.x, t.y, t.z) == expected, (t, expected)
                checked += 1
                inside += expected
    assert 0 < inside < checked  # the ring really straddles the edges


def test_tiles_are_the_same_bytes_as_rio_tiler(rasters):
    path = str(rasters["rgb_new"].path)
    raster = rasters["rgb_new"]
    lon, lat = raster.lonlat(500, 500)
    for z in (16, 18, 20):
        t = tile_of(lon, lat, z)
        with Reader(path) as plain, ItemReader(path) as cached:
            a, b = plain.tile(t.x, t.y, t.z), cached.tile(t.x, t.y, t.z)
        assert np.array_equal(a.data, b.data) and np.array_equal(a.mask, b.mask)


def test_the_resolution_memo_is_keyed_by_the_dataset(rasters):
    """Two rasters of different grids never share a memoised transform."""
    import rasterio

    results = []
    for name in ("rgb_old", "ms"):
        with rasterio.open(rasters[name].path) as ds:
            bounds = TMS.xy_bounds(tile_of(*rasters[name].lonlat(100, 100), 19))
            results.append(get_vrt_transform(ds, tuple(bounds), 256, 256))
            # the same as without the memo
            expected = reader._calculate_default_transform(ds.crs, TMS.rasterio_crs, ds.width, ds.height, *ds.bounds)
            assert reader.calculate_default_transform(ds.crs, TMS.rasterio_crs, ds.width, ds.height,
                                                      *ds.bounds) == expected
    assert results[0] != results[1]
    # rio-tiler passes the CRS as text on some paths (``part(..., dst_crs="EPSG:4326")``)
    with rasterio.open(rasters["rgb_old"].path) as ds:
        assert reader.calculate_default_transform(ds.crs, "EPSG:4326", ds.width, ds.height, *ds.bounds) == \
            reader._calculate_default_transform(ds.crs, "EPSG:4326", ds.width, ds.height, *ds.bounds)


def test_a_withdrawn_item_stops_being_served_within_the_ttl(client, rasters, auth, engine, tiles_settings):
    item = rasters["rgb_old"]
    t = tile_of(*item.lonlat(512, 512), 19)
    path = f"/rasters/{item.id}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
    assert client.get(path, headers=auth["anonymous"]).status_code == 200
    assert store.cached_item(engine, tiles_settings, item.id) is not None  # kept: the next tile asks no query
    with Session(engine) as session:
        session.execute(update(RasterItem).where(RasterItem.id == item.id).values(status="pending"))
        session.commit()
    try:
        time.sleep(ITEM_TTL_S + 0.2)
        assert client.get(path, headers=auth["anonymous"]).status_code == 404
    finally:
        with Session(engine) as session:
            session.execute(update(RasterItem).where(RasterItem.id == item.id).values(status="ready"))
            session.commit()
    assert client.get(path, headers=auth["anonymous"]).status_code == 200  # not-found is never kept


@pytest.mark.parametrize("who", ["anonymous", "planner"])
def test_a_cached_item_still_applies_the_access_rule(client, rasters, auth, who):
    """The border collection's item, read by the border guard (so it is cached), stays hidden."""
    item = rasters["secret"]
    t = tile_of(*item.lonlat(512, 512), 19)
    path = f"/rasters/{item.id}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
    assert client.get(path, headers=auth["border"]).status_code == 200
    assert client.get(path, headers=auth[who]).status_code == 404
