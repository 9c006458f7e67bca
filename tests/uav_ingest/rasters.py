"""Synthetic rasters shaped like the ones that arrive in practice (and broken ones).

Generated, not real: UAV RGB orthomosaics (8-bit + alpha, 5 cm, VN-2000 / TM-3 107°15′) whose
valid area is a rotated flight block, a 5-band multispectral flight, a DEM, a classification.
The Sentinel-2-like stack reuses the real Landsat 8 pixels of ``tests/data`` (Rondônia, Brazil:
not Vietnamese) placed over Lạng Sơn in UTM 48N at 10 m.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

DATA = Path(__file__).resolve().parents[1] / "data"
LANDSAT8 = DATA / "landsat8_oli_rondonia_brazil_6band.tif"
#: Lạng Sơn city, inside the province
CENTRE = (106.75, 21.85)


def _origin(epsg: int, centre: tuple[float, float], width: int, height: int, res: float) -> tuple[float, float]:
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(*centre)
    return x - width * res / 2, y + height * res / 2


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth fields with tree-like blobs: compresses like imagery, not like noise or flat colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 0.5 + 0.25 * np.sin(xx / 37.0) * np.cos(yy / 53.0)
    for _ in range(60):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(8, 40)
        base += 0.3 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    return np.clip(base + rng.normal(0, 0.02, base.shape), 0, 1.5) / 1.5


def rotated_block(height: int, width: int, angle_deg: float = 30.0, fill: float = 0.55) -> np.ndarray:
    """A boolean mask: a rectangle rotated by ``angle_deg`` in the middle (a flight block)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = width / 2, height / 2
    a = math.radians(angle_deg)
    u = (xx - cx) * math.cos(a) + (yy - cy) * math.sin(a)
    v = -(xx - cx) * math.sin(a) + (yy - cy) * math.cos(a)
    return (np.abs(u) < width * fill / 2) & (np.abs(v) < height * fill / 2)


def uav_rgb(path: Path, *, width: int = 1600, height: int = 1200, res: float = 0.05, epsg: int = 9215,
            centre: tuple[float, float] = CENTRE, alpha: bool = True, seed: int = 1) -> Path:
    """An 8-bit RGB orthomosaic; outside the rotated block alpha is 0 (or, without alpha, nodata 0)."""
    valid = rotated_block(height, width)
    t = _texture(height, width, seed)
    rgb = np.stack([t * 180 + 30, t * 200 + 40, t * 120 + 20]).astype(np.uint8)
    rgb[:, ~valid] = 0
    profile = dict(driver="GTiff", width=width, height=height, dtype="uint8", crs=f"EPSG:{epsg}",
                   transform=from_origin(*_origin(epsg, centre, width, height, res), res, res),
                   tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    if alpha:
        with rasterio.open(path, "w", count=4, photometric="RGB", alpha="YES", **profile) as ds:
            ds.write(rgb, [1, 2, 3])
            ds.write((valid * 255).astype(np.uint8), 4)
    else:
        with rasterio.open(path, "w", count=3, nodata=0, photometric="RGB", **profile) as ds:
            ds.write(rgb)
    return path


def multispectral(path: Path, *, width: int = 900, height: int = 700, res: float = 0.08, epsg: int = 32648,
                  centre: tuple[float, float] = (106.62, 21.90), named: bool = True, seed: int = 2) -> Path:
    """A 5-band 16-bit multispectral flight (blue, green, red, red edge, NIR), nodata 0 outside an ellipse."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    valid = ((xx - width / 2) / (width * 0.45)) ** 2 + ((yy - height / 2) / (height * 0.4)) ** 2 < 1
    t = _texture(height, width, seed)
    scale = [0.05, 0.08, 0.04, 0.25, 0.45]  # vegetation: dark red, bright NIR
    data = np.stack([(t * s + 0.01) * 10000 for s in scale]).astype(np.uint16)
    data[:, ~valid] = 0
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=5, dtype="uint16",
                       crs=f"EPSG:{epsg}", nodata=0,
                       transform=from_origin(*_origin(epsg, centre, width, height, res), res, res)) as ds:
        ds.write(data)
        if named:
            for i, name in enumerate(["Blue", "Green", "Red", "Red edge", "NIR"], start=1):
                ds.set_band_description(i, name)
    return path


def sentinel2_like(path: Path, *, centre: tuple[float, float] = (106.9, 21.95)) -> Path:
    """Bands B02, B03, B04, B08 of the real Landsat 8 crop, placed over Lạng Sơn at 10 m, UTM 48N."""
    with rasterio.open(LANDSAT8) as src:
        data = src.read([1, 2, 3, 4])
        height, width = src.height, src.width
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=4, dtype="uint16",
                       crs="EPSG:32648", nodata=0,
                       transform=from_origin(*_origin(32648, centre, width, height, 10.0), 10.0, 10.0)) as ds:
        ds.write(data)
        for i, name in enumerate(["B02", "B03", "B04", "B08"], start=1):
            ds.set_band_description(i, name)
    return path


def dem(path: Path, *, width: int = 700, height: int = 600, res: float = 2.0, epsg: int = 9215) -> Path:
    """A float32 DEM (m) with a nodata corner."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    z = 250 + 80 * np.sin(xx / 90) * np.cos(yy / 70) + yy * 0.1
    z[:100, :150] = -9999
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32",
                       crs=f"EPSG:{epsg}", nodata=-9999,
                       transform=from_origin(*_origin(epsg, CENTRE, width, height, res), res, res)) as ds:
        ds.write(z, 1)
    return path


def classes(path: Path, *, width: int = 1024, height: int = 1024, res: float = 1.0) -> Path:
    """A land-cover classification: values 1, 2, 3, 7 only (nearest overviews must keep it so)."""
    yy, xx = np.mgrid[0:height, 0:width]
    data = np.choose((xx // 7 + yy // 5) % 4, [1, 2, 3, 7]).astype(np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1, dtype="uint8",
                       crs="EPSG:9215", nodata=0,
                       transform=from_origin(*_origin(9215, CENTRE, width, height, res), res, res)) as ds:
        ds.write(data, 1)
    return path
