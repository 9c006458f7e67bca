"""Step 1 — inputs and one grid: band roles, the pair's comparison grid, windows over it.

Both rasters are read through ``rasterio.vrt.WarpedVRT`` onto one grid: their common CRS if they share a
projected one, else VN-2000 / TM-3 107°15′ (EPSG:9215); the coarser of the two resolutions (``average``
resampling when a fine flight meets a coarser one), never finer than ``UAV_WORKING_RES_M`` for drone
imagery; the intersection of their extents, which must be a stated share of the smaller one.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import rasterio
from pyproj import CRS
from rasterio.transform import Affine, from_origin
from rasterio.warp import calculate_default_transform, transform_bounds
from rasterio.windows import Window

from change.errors import ChangeInputError
from rasters.bands import common_name

AREA_EPSG = 9215
#: drone orthophotos are compared at 0.25 m at the finest: the smallest mapped object (a 3 m skid trail,
#: a 0.05 ha clearing ≈ 22 × 22 m) is still 12 px wide, a crown (≥ 1.2 m radius) 10 px across, and 2–10 cm
#: pixels add only JPEG blocks, leaves and sensor noise (16–100 × the work for nothing)
UAV_WORKING_RES_M = 0.25
#: the overlap must cover at least this share of the smaller raster: below it the "pair" is two
#: neighbouring flights (a seam), not two dates of one place
MIN_OVERLAP_SHARE = 0.10


@dataclass(frozen=True)
class Source:
    """One date: where its pixels are and which band is which (1-based)."""

    id: str
    location: str
    roles: dict[str, int]
    datetime: object = None
    env: tuple[tuple[str, Any], ...] = ()  # rasterio.Env options (rasters.environment.gdal_env)
    #: divisor to reflectance (0–1); None: from the file (GDAL scale/offset, BOA_ADD_OFFSET, data type)
    scale: float | None = None
    #: lon/lat bounds of the valid data, when known (registered items)
    bbox: tuple[float, float, float, float] | None = None
    #: mask clouds and shadows: decided once per raster (``detect``), never window by window
    clouds: bool = False
    #: co-registration: where this date's pixels really are, in grid units (m) added to its georeference
    shift: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Grid:
    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def res(self) -> float:
        return self.transform.a


def roles_from_file(location: str) -> dict[str, int]:
    """Band roles of a GeoTIFF from its descriptions, else its colour interpretation (alpha skipped); a
    3- or 4-band 8-bit raster with neither is a plain RGB(A) drone orthophoto."""
    with rasterio.open(location) as ds:
        out: dict[str, int] = {}
        for i, (desc, interp) in enumerate(zip(ds.descriptions, ds.colorinterp, strict=True), start=1):
            name = common_name(desc) or (interp.name if interp.name in ("red", "green", "blue") else None)
            if desc and desc.strip().lower() in ("scl", "scene classification"):
                name = "scl"
            if name == "nir08":
                name = "nir"
            if name and name not in out:
                out[name] = i
        if not out and ds.dtypes[0] == "uint8" and ds.count in (3, 4):
            out = {"red": 1, "green": 2, "blue": 3}
        return out


def file_source(path: str, id: str | None = None, datetime: object = None) -> Source:
    return Source(id=id or os.path.basename(path), location=str(path), roles=roles_from_file(str(path)),
                  datetime=datetime)


def index_kind(before: Source, after: Source) -> str:
    """``ndvi`` when both dates have red and NIR, ``exg`` when both have RGB; else an error."""
    have = set(before.roles) & set(after.roles)
    if {"red", "nir"} <= have:
        return "ndvi"
    if {"red", "green", "blue"} <= have:
        return "exg"
    raise ChangeInputError(
        f"Hai ảnh không có kênh chung để tính chỉ số thực vật / no common bands for a vegetation index: "
        f"{before.id} has {sorted(before.roles) or 'no named bands'}, {after.id} has "
        f"{sorted(after.roles) or 'no named bands'}; need red+NIR (NDVI) or red+green+blue (ExG) in both")


def _native(ds: rasterio.DatasetReader, crs: CRS) -> tuple[float, tuple[float, float, float, float]]:
    transform, _, _ = calculate_default_transform(ds.crs, crs, ds.width, ds.height, *ds.bounds)
    bounds = transform_bounds(ds.crs, crs, *ds.bounds, densify_pts=21)
    return abs(transform.a), bounds


def common_grid(before: Source, after: Source, resolution: float | None = None) -> Grid:
    """The grid both dates are compared on (see the module docstring)."""
    with rasterio.Env(**dict(before.env)), rasterio.open(before.location) as b, rasterio.open(after.location) as a:
        if b.crs is None or a.crs is None:
            raise ChangeInputError("Ảnh thiếu hệ tọa độ / a raster has no CRS")
        crs = CRS.from_user_input(b.crs)
        if not (crs.is_projected and CRS.from_user_input(a.crs) == crs):
            crs = CRS.from_epsg(AREA_EPSG)
        res_b, box_b = _native(b, crs)
        res_a, box_a = _native(a, crs)
    left, bottom = max(box_b[0], box_a[0]), max(box_b[1], box_a[1])
    right, top = min(box_b[2], box_a[2]), min(box_b[3], box_a[3])
    res = float(resolution or max(res_b, res_a, UAV_WORKING_RES_M if max(res_b, res_a) < 1.0 else 0.0))
    if right - left < 3 * res or top - bottom < 3 * res:
        raise ChangeInputError(
            f"Hai ảnh không chồng phủ nhau / the rasters do not overlap: {before.id} and {after.id} share no area")
    smaller = min((box_b[2] - box_b[0]) * (box_b[3] - box_b[1]), (box_a[2] - box_a[0]) * (box_a[3] - box_a[1]))
    share = (right - left) * (top - bottom) / smaller
    if share < MIN_OVERLAP_SHARE:
        raise ChangeInputError(
            f"Hai ảnh chồng phủ quá ít ({share:.0%} < {MIN_OVERLAP_SHARE:.0%}) / the rasters overlap too little: "
            f"{before.id} and {after.id} share {share:.0%} of the smaller one (at least {MIN_OVERLAP_SHARE:.0%} "
            f"needed: two dates of one place, not neighbouring flights)")
    width, height = math.floor((right - left) / res), math.floor((top - bottom) / res)
    return Grid(crs=crs, transform=from_origin(left, top, res, res), width=width, height=height)


def windows(grid: Grid, size: int) -> list[Window]:
    return [Window(c, r, min(size, grid.width - c), min(size, grid.height - r))
            for r in range(0, grid.height, size) for c in range(0, grid.width, size)]


def expanded(grid: Grid, win: Window, halo: int) -> tuple[Window, tuple[slice, slice]]:
    c0, r0 = max(0, win.col_off - halo), max(0, win.row_off - halo)
    c1 = min(grid.width, win.col_off + win.width + halo)
    r1 = min(grid.height, win.row_off + win.height + halo)
    core = (slice(win.row_off - r0, win.row_off - r0 + win.height),
            slice(win.col_off - c0, win.col_off - c0 + win.width))
    return Window(c0, r0, c1 - c0, r1 - r0), core


def aligned(ds: rasterio.DatasetReader, grid: Grid) -> tuple[int, int] | None:
    """The grid's origin in the raster's pixels when the raster is already on the grid (same CRS,
    resolution and pixel alignment), else None."""
    t = ds.transform
    if ds.crs is None or CRS.from_user_input(ds.crs) != grid.crs or t.b or t.d:
        return None
    if abs(t.a - grid.transform.a) > 1e-9 * abs(t.a) or abs(t.e - grid.transform.e) > 1e-9 * abs(t.e):
        return None
    col, row = (grid.transform.c - t.c) / t.a, (grid.transform.f - t.f) / t.e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return int(round(col)), int(round(row))
