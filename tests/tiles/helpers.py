"""Decoding tiles and finding where a place falls in one."""

from __future__ import annotations

import morecantile
import numpy as np
from rasterio.io import MemoryFile

TMS = morecantile.tms.get("WebMercatorQuad")


def tile_of(lon: float, lat: float, z: int) -> morecantile.Tile:
    return TMS.tile(lon, lat, z)


def pixel_of(lon: float, lat: float, tile: morecantile.Tile, size: int = 256) -> tuple[int, int]:
    """(row, col) of ``lon, lat`` in ``tile``."""
    x, y = TMS.xy(lon, lat)
    b = TMS.xy_bounds(tile)
    col = int((x - b.left) / (b.right - b.left) * size)
    row = int((b.top - y) / (b.top - b.bottom) * size)
    return row, col


def rgba(content: bytes) -> np.ndarray:
    """A PNG, JPEG or WebP image (decoded by GDAL) as (rows, cols, 4) uint8; alpha 255 where it has none."""
    with MemoryFile(content) as mem, mem.open() as ds:
        bands = ds.read()
    if bands.shape[0] in (1, 2):  # grey (+ alpha)
        bands = np.concatenate([bands[:1]] * 3 + [bands[1:]])
    if bands.shape[0] == 3:
        bands = np.concatenate([bands, np.full_like(bands[:1], 255)])
    return np.moveaxis(bands, 0, -1)


def geotiff(content: bytes) -> tuple[np.ma.MaskedArray, dict]:
    """A GeoTIFF tile's values, masked where its last band (TiTiler's mask: 0 = no data) says so,
    and its profile."""
    with MemoryFile(content) as mem, mem.open() as ds:
        bands = ds.read()
        profile = ds.profile
    values, mask = bands[:-1], bands[-1] == 0
    return np.ma.MaskedArray(values, mask=np.broadcast_to(mask, values.shape)), profile


def is_problem(response, status: int) -> bool:
    return response.status_code == status and response.headers["content-type"] == "application/problem+json" \
        and response.json()["status"] == status and "Traceback" not in response.text
