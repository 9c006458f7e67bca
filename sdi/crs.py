"""Coordinate reference systems of the province and exact transformation to storage.

VN-2000 reaches WGS 84 through a 7-parameter Helmert shift (EPSG "VN-2000 to WGS 84
(2)", about 1 m); ``only_best`` makes PROJ refuse a ballpark fallback instead of silently
shifting data by tens of metres.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest

STORAGE = CRS.from_epsg(4326)
#: VN-2000 / TM-3 107°15′ (the province's projection), VN-2000 / UTM 48N, VN-2000 geographic.
VN2000 = {9215: "VN-2000 / TM-3 107°15′", 3405: "VN-2000 / UTM 48N", 4756: "VN-2000"}
LANG_SON_AOI = AreaOfInterest(106.0, 21.3, 107.4, 22.6)


@lru_cache(maxsize=32)
def transformer(src: str, dst: str) -> Transformer:
    """The best available transformation between two CRSs, lon/lat order."""
    return Transformer.from_crs(
        CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True,
        only_best=True, area_of_interest=LANG_SON_AOI,  # type: ignore[arg-type]  # pyproj's stub names another class
    )


@lru_cache(maxsize=64)
def default_transformer(src_wkt: str, dst_wkt: str, always_xy: bool = True) -> Transformer:
    """PROJ's default transformation between two CRSs (WKT), the one GDAL, rio-tiler and pygeoapi
    build on every call; kept here because building it searches PROJ's database (tens of ms). Not
    ``transformer``'s ``only_best``: these answers must match what those libraries compute.
    (pyproj's Transformer is thread-safe since 3.1, so one object serves every thread.)"""
    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=always_xy)


def reproject(geoms: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """Transform an array of geometries between two CRSs (lon/lat order for geographic)."""
    if src.equals(dst, ignore_axis_order=True):
        return geoms
    t = transformer(src.to_wkt(), dst.to_wkt())

    def _apply(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, _apply)


def to_storage(geoms: np.ndarray, src: CRS) -> np.ndarray:
    """Transform geometries from ``src`` to EPSG:4326 (lon, lat)."""
    return reproject(geoms, src, STORAGE)


def looks_geographic(geoms: np.ndarray) -> bool:
    """True when every coordinate fits in degrees (|x| ≤ 180, |y| ≤ 90)."""
    bounds = shapely.total_bounds(geoms)
    return bool(np.all(np.isfinite(bounds))) and (
        bounds[0] >= -180 and bounds[2] <= 180 and bounds[1] >= -90 and bounds[3] <= 90
    )
