"""The footprint of the valid data (not the bounding box): the dataset mask, traced into polygons.

The mask is read at a reduced size (from the COG's overviews), traced with
``rasterio.features.shapes``, simplified by one reduced pixel and transformed to EPSG:4326 with
the project's PROJ pipeline (VN-2000 through its 7-parameter shift, see ``sdi.crs``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.features import shapes

from sdi.crs import STORAGE, reproject

FOOTPRINT_MAX_SIZE = 1024
#: polygons smaller than this many reduced pixels are speckle, not coverage
MIN_PIXELS = 4


def valid_footprint(cog: Path, max_size: int = FOOTPRINT_MAX_SIZE) -> tuple[shapely.MultiPolygon | None, float]:
    """The valid-data outline in EPSG:4326 and the share of valid pixels (0–1)."""
    with rasterio.open(cog) as ds:
        scale = max(1.0, max(ds.width, ds.height) / max_size)
        height, width = max(1, round(ds.height / scale)), max(1, round(ds.width / scale))
        mask = ds.dataset_mask(out_shape=(height, width))
        transform = ds.transform @ Affine.scale(ds.width / width, ds.height / height)
        crs = CRS.from_user_input(ds.crs.to_wkt())
    valid = mask > 0
    share = float(valid.mean())
    if not valid.any():
        return None, 0.0
    pixel = math.hypot(transform.a, transform.d)
    polys = [shapely.geometry.shape(geom) for geom, _ in shapes(valid.astype(np.uint8), mask=valid,
                                                                   transform=transform, connectivity=8)]
    polys = [p for p in polys if p.area >= MIN_PIXELS * pixel * pixel] or polys
    # 2 pixels: removes the staircase of traced diagonal edges
    native = shapely.make_valid(shapely.simplify(shapely.union_all(polys), 2 * pixel, preserve_topology=True))
    x0, y0, x1, y1 = native.bounds
    native = shapely.segmentize(native, max(x1 - x0, y1 - y0, 1e-9) / 16)  # long edges bend when reprojected
    geom = shapely.make_valid(reproject(np.array([native]), crs, STORAGE)[0])
    return _multipolygon(geom), share


def _multipolygon(geom: shapely.Geometry) -> shapely.MultiPolygon | None:
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, shapely.Polygon) and not g.is_empty]
    polys: list[shapely.Polygon] = []
    for part in parts:
        polys.extend(part.geoms if isinstance(part, shapely.MultiPolygon) else [part])
    return shapely.MultiPolygon(polys) if polys else None
