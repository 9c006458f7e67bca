"""Detection core: two rasters → change polygons, window by window.

Steps (each a library call where one exists):

1. **One grid.** Both rasters are read through ``rasterio.vrt.WarpedVRT`` onto one grid: their
   common CRS if they share a projected one, else VN-2000 / TM-3 107°15′ (EPSG:9215); the
   coarser of the two resolutions (``average`` resampling when a fine UAV flight meets a 10 m
   scene); the intersection of their extents.
2. **Masks.** Nodata / alpha / internal masks of both dates; clouds (bright, white) and
   shadows (very dark) where the data are reflectances with a blue band; dilated a little.
3. **Index.** NDVI when both dates have red and NIR, else ExG on chromatic coordinates
   (2g − r − b with r+g+b = 1, insensitive to brightness) for plain RGB drones, smoothed by a
   masked Gaussian (tree-crown texture is not change).
4. **Normalisation.** A robust linear fit ``after ≈ a·before + b`` on stable pixels (trimmed
   least squares, pixels beyond 2.5 robust σ dropped), so a brighter or hazier second date is
   not change.
5. **Misregistration.** Loss score ``L = min₍ₖ₎(before′) − after``: a pixel is lost only if it is
   darker than *every* before pixel within ``tolerance_px``; gain ``G = after − max₍ₖ₎(before′)``.
   A shift of ≤ k px of an existing edge never scores.
6. **Threshold.** Otsu (``skimage.filters.threshold_otsu``) on the positive scores, never below
   ``k_sigma`` robust σ of the plain difference nor ``min_threshold``; or ``threshold`` given.
7. **Clean-up.** ``skimage.morphology`` opening and hole filling; polygons by
   ``rasterio.features.shapes``; pieces merged across windows one row of windows at a time
   (``_Mosaic``); minimum mapping unit on the area in EPSG:9215; magnitude (mean score) and
   confidence per event.

Statistics (steps 4 and 6) come from a systematic sample of at most ``sample_windows`` windows;
detection then runs over every window in parallel (any ``concurrent.futures.Executor``:
threads by default, ``distributed.Client.get_executor()`` for a Dask cluster), a task being the
rasters' locations and a window: whoever runs it reads the pixels. Memory is bounded by
``window`` × workers, whatever the raster size: at most ``4 × workers`` windows are in flight,
finished areas leave the merge as soon as their row of windows is done, and no step reads a whole
raster (the cloud test samples blocks or an overview).
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import rasterio
import shapely
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.features import shapes
from rasterio.transform import Affine, from_origin
from rasterio.vrt import WarpedVRT
from rasterio.warp import calculate_default_transform, transform_bounds
from rasterio.windows import Window
from scipy import ndimage
from skimage.filters import apply_hysteresis_threshold, threshold_otsu
from skimage.morphology import disk, remove_small_holes

from change.errors import ChangeInputError
from rasters.bands import common_name

AREA_EPSG = 9215
#: default minimum mapping units (ha): UAV (GSD < 1 m) and satellite
MMU_UAV_HA, MMU_SATELLITE_HA = 0.05, 0.5


@dataclass(frozen=True)
class Source:
    """One date: where its pixels are and which band is which (1-based)."""

    id: str
    location: str
    roles: dict[str, int]
    datetime: object = None
    env: tuple[tuple[str, Any], ...] = ()  # rasterio.Env options (rasters.items.gdal_env)
    #: divisor to reflectance (0–1); None: from the data type (uint8 → 255, uint16 → 10000)
    scale: float | None = None
    #: lon/lat bounds of the valid data, when known (registered items)
    bbox: tuple[float, float, float, float] | None = None
    #: mask clouds and shadows: decided once per raster (``detect``), never window by window
    clouds: bool = False


@dataclass(frozen=True)
class Params:
    threshold: float | None = None  # override of the automatic threshold (index units)
    mmu_ha: float | None = None  # None: 0.05 ha below 1 m GSD, else 0.5 ha
    resolution: float | None = None  # working resolution in grid units (m); None: the coarser input
    tolerance_px: int = 2  # misregistration tolerated (pixels of the working grid)
    smooth_px: float | None = None  # Gaussian σ of the index (px); None: 1.5 below 1 m GSD (crowns), else 0
    k_sigma: float = 4.0  # threshold floor in robust σ of the difference
    min_threshold: float = 0.08  # threshold floor in index units
    gain: bool = True  # report gains too
    cloud_mask: bool = True
    window: int = 1024
    workers: int = max(1, os.cpu_count() or 1)
    sample_windows: int = 24
    opening_px: int = 1


@dataclass(frozen=True)
class Grid:
    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def res(self) -> float:
        return self.transform.a


@dataclass
class Event:
    kind: str  # loss | gain
    geometry: shapely.Geometry  # grid CRS
    pixels: int
    magnitude: float  # mean score (index units, positive)
    confidence: float  # 0–1
    area_ha: float = 0.0


@dataclass
class Result:
    before: Source
    after: Source
    grid: Grid
    index: str
    normalisation: tuple[float, float]
    thresholds: dict[str, float]
    sigma: float
    events: list[Event]
    valid_pixels: int = 0
    masked_pixels: int = 0
    seconds: float = 0.0
    mmu_ha: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def megapixels(self) -> float:
        return self.grid.width * self.grid.height / 1e6


# --- inputs -----------------------------------------------------------------------------------

def roles_from_file(location: str) -> dict[str, int]:
    """Band roles of a GeoTIFF from its descriptions, else its colour interpretation."""
    with rasterio.open(location) as ds:
        out: dict[str, int] = {}
        for i, (desc, interp) in enumerate(zip(ds.descriptions, ds.colorinterp, strict=True), start=1):
            name = common_name(desc) or (interp.name if interp.name in ("red", "green", "blue") else None)
            if name == "nir08":
                name = "nir"
            if name and name not in out:
                out[name] = i
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
    res = float(resolution or max(res_b, res_a))
    if right - left < 3 * res or top - bottom < 3 * res:
        raise ChangeInputError(
            f"Hai ảnh không chồng phủ nhau / the rasters do not overlap: {before.id} and {after.id} share no area")
    width, height = math.floor((right - left) / res), math.floor((top - bottom) / res)
    return Grid(crs=crs, transform=from_origin(left, top, res, res), width=width, height=height)


# --- per-window computation ------------------------------------------------------------------------

def _sample_windows(ds: rasterio.DatasetReader, band: int, n: int = 4, size: int = 256) -> list[Window]:
    """``n`` × ``n`` windows of at most ``size``² spread over the raster, each starting on a block: each
    read decodes one block (tiled rasters), whatever the raster's size."""
    bh, bw = ds.block_shapes[band - 1]
    rows = sorted({int((i + 0.5) * ds.height / n) // bh * bh for i in range(n)})
    cols = sorted({int((i + 0.5) * ds.width / n) // bw * bw for i in range(n)})
    return [Window(c, r, min(size, ds.width - c), min(size, ds.height - r)) for r in rows for c in cols]


def _reflectance(src: Source) -> bool:
    """Are the values reflectances (so that absolute cloud and shadow tests apply)? From the blue band
    of an overview when the raster has one (COGs) or is small, else of 16 windows spread over it.

    Never a decimated read of a large raster without overviews: GDAL would decode every block of it
    (a 20,000² pair: 27 s each, and the block cache — 5 % of RAM — grew to 1.35 GB with the raster)."""
    if "blue" not in src.roles:
        return False
    band = src.roles["blue"]
    with rasterio.Env(**dict(src.env)), rasterio.open(src.location) as ds:
        scale = _scale(ds.dtypes[0], src.scale)
        if ds.overviews(band) or ds.width * ds.height <= 2048 * 2048:
            f = max(1, max(ds.width, ds.height) // 256)
            values = ds.read(band, out_shape=(max(1, ds.height // f), max(1, ds.width // f)), masked=True).compressed()
        else:
            values = np.concatenate([ds.read(band, window=w, masked=True).compressed()
                                     for w in _sample_windows(ds, band)])
    values = values / scale
    return bool(values.size) and float(np.median(values)) < 0.3


def _windows(grid: Grid, size: int) -> list[Window]:
    return [Window(c, r, min(size, grid.width - c), min(size, grid.height - r))
            for r in range(0, grid.height, size) for c in range(0, grid.width, size)]


def _halo(params: Params) -> int:
    # smoothing, the min/max filter, opening, and the cloud-shadow ratio (σ 2 px, dilated): all local
    return params.tolerance_px * 2 + int(math.ceil(3 * (params.smooth_px or 0))) + params.opening_px + 14


def _aligned(ds: rasterio.DatasetReader, grid: Grid) -> tuple[int, int] | None:
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


def _scale(dtype: str, given: float | None) -> float:
    if given:
        return given
    return {"uint8": 255.0, "uint16": 10000.0, "int16": 10000.0}.get(dtype, 1.0)


def _read(src: Source, grid: Grid, win: Window, kind: str, params: Params,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Index, validity and brightness (satellite reflectance only) of ``src`` over ``win`` of the grid."""
    bands = ["red", "nir"] if kind == "ndvi" else ["red", "green", "blue"]
    extra = ["blue"] if kind == "ndvi" and "blue" in src.roles and params.cloud_mask else []
    idx = [src.roles[b] for b in bands + extra]
    with rasterio.Env(**dict(src.env)), rasterio.open(src.location) as ds:
        offset = _aligned(ds, grid)
        if offset is not None:  # already on the grid: a plain windowed read, no warping
            own = Window(win.col_off + offset[0], win.row_off + offset[1], win.width, win.height)
            outside = own.col_off < 0 or own.row_off < 0 or own.col_off + own.width > ds.width \
                or own.row_off + own.height > ds.height  # boundless reads go through a VRT: only when needed
            data = ds.read(idx, window=own, out_dtype="float32", boundless=outside, fill_value=0)
            valid = ds.read_masks(idx, window=own, boundless=outside).min(axis=0) > 0
        else:
            down = grid.res > min(abs(ds.transform.a), abs(ds.transform.e)) * 1.5 and not ds.crs.is_geographic
            with WarpedVRT(ds, crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height,
                           resampling=Resampling.average if down else Resampling.bilinear) as vrt:
                data = vrt.read(idx, window=win, out_dtype="float32")
                valid = vrt.read_masks(idx, window=win).min(axis=0) > 0
        scale = _scale(ds.dtypes[0], src.scale)
    data /= scale
    brightness = None
    if kind == "ndvi":
        red, nir = data[0], data[1]
        index = (nir - red) / np.maximum(nir + red, 1e-6)
        # clouds (bright and white: blue about as bright as red; bare soil is much redder) and
        # deep shadows: satellite reflectances only, skipped when the values are not reflectances
        if extra and src.clouds:
            blue = data[2]
            cloud = (blue > 0.18) & (blue > 0.85 * red)
            shadow = nir < 0.02
            valid &= ~ndimage.binary_dilation(cloud | shadow, iterations=params.tolerance_px + 2)
            brightness = data.mean(axis=0)
    else:  # drones fly under the clouds
        total = np.maximum(data.sum(axis=0), 1e-6)
        index = (2 * data[1] - data[0] - data[2]) / total
        valid &= total > 3 / 255  # black fill without a mask
    index[~valid] = 0.0
    return index.astype("float32"), valid, brightness


def _smooth(index: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    if not sigma or sigma <= 0:
        return index
    weights = ndimage.gaussian_filter(valid.astype("float32"), sigma)
    out = ndimage.gaussian_filter(index * valid, sigma) / np.maximum(weights, 1e-6)
    return out.astype("float32")


def _expanded(grid: Grid, win: Window, halo: int) -> tuple[Window, tuple[slice, slice]]:
    c0, r0 = max(0, win.col_off - halo), max(0, win.row_off - halo)
    c1 = min(grid.width, win.col_off + win.width + halo)
    r1 = min(grid.height, win.row_off + win.height + halo)
    core = (slice(win.row_off - r0, win.row_off - r0 + win.height),
            slice(win.col_off - c0, win.col_off - c0 + win.width))
    return Window(c0, r0, c1 - c0, r1 - r0), core


@dataclass
class _Scores:
    loss: np.ndarray
    gain: np.ndarray
    diff: np.ndarray  # plain after − before (unnormalised), for σ and the fit
    before: np.ndarray
    after: np.ndarray
    valid: np.ndarray


def _scores(before: Source, after: Source, grid: Grid, win: Window, kind: str, params: Params,
            a: float = 1.0, b: float = 0.0) -> tuple[_Scores, tuple[slice, slice]]:
    big, core = _expanded(grid, win, _halo(params))
    ib, vb, bb = _read(before, grid, big, kind, params)
    ia, va, ba = _read(after, grid, big, kind, params)
    if bb is not None and ba is not None:  # cloud shadow: the after much darker than the before (or back)
        ratio = _smooth(ba, va & vb, 2.0) / np.maximum(_smooth(bb, va & vb, 2.0), 1e-4)
        shade = ndimage.binary_dilation((ratio < 0.55) | (ratio > 3.0), iterations=params.tolerance_px + 2)
        va &= ~shade
    ib, ia = _smooth(ib, vb, params.smooth_px or 0), _smooth(ia, va, params.smooth_px or 0)
    nb = a * ib + b  # before, normalised to the after's radiometry
    size = 2 * params.tolerance_px + 1
    lo = ndimage.minimum_filter(np.where(vb, nb, np.inf), size=size)
    hi = ndimage.maximum_filter(np.where(vb, nb, -np.inf), size=size)
    valid = vb & va
    loss = np.where(valid & np.isfinite(lo), lo - ia, 0.0).astype("float32")
    gain = np.where(valid & np.isfinite(hi), ia - hi, 0.0).astype("float32")
    return _Scores(loss, gain, (ia - ib).astype("float32"), ib, ia, valid), core


def _sample_task(before: Source, after: Source, grid: Grid, win: Window, kind: str, params: Params,
                 ) -> dict[str, np.ndarray]:
    s, core = _scores(before, after, grid, win, kind, params)
    valid = s.valid[core]
    step = max(1, int(math.sqrt(valid.size / 65536)))
    pick = valid[::step, ::step]
    sub = {name: getattr(s, name)[core][::step, ::step][pick] for name in ("before", "after")}
    # min/max filters commute with a positive linear map: keep the raw filtered before values
    size = 2 * params.tolerance_px + 1
    big_valid = s.valid
    lo = ndimage.minimum_filter(np.where(big_valid, s.before, np.inf), size=size)[core][::step, ::step][pick]
    hi = ndimage.maximum_filter(np.where(big_valid, s.before, -np.inf), size=size)[core][::step, ::step][pick]
    # block means (8 × 8 px) for the radiometric fit: per-pixel noise (8-bit shade, texture) averaged out
    bv, bb, ba = (x[core] for x in (s.valid, s.before, s.after))
    h, w = (bv.shape[0] // 8) * 8, (bv.shape[1] // 8) * 8
    blocks = {}
    if h and w:
        full = bv[:h, :w].reshape(h // 8, 8, w // 8, 8).all(axis=(1, 3))
        for name, arr in (("bx", bb), ("by", ba)):
            blocks[name] = arr[:h, :w].reshape(h // 8, 8, w // 8, 8).mean(axis=(1, 3))[full]
    else:
        blocks = {"bx": np.zeros(0, "float32"), "by": np.zeros(0, "float32")}
    return {**sub, "lo": lo, "hi": hi, **blocks}


def _mode(v: np.ndarray) -> float:
    """The peak of a smoothed histogram: the unchanged majority, even when a third has changed."""
    counts, edges = np.histogram(v, bins=200)
    peak = int(np.argmax(ndimage.gaussian_filter1d(counts.astype(float), 2)))
    return float((edges[peak] + edges[peak + 1]) / 2)


def _spread(v: np.ndarray) -> float:
    q75, q25 = np.percentile(v, [75, 25])
    return float(q75 - q25)


def robust_fit(x: np.ndarray, y: np.ndarray, rounds: int = 4) -> tuple[float, float]:
    """``y ≈ a·x + b`` on stable pixels, by matching the spread and centre of the two distributions
    (reduced major axis with interquartile ranges: unlike least squares it is not pulled towards a
    flat line by noise in ``x``), dropping pixels beyond 2.5 robust σ of the residual, repeated."""
    finite = np.isfinite(x) & np.isfinite(y)
    a, b = 1.0, _mode(y[finite] - x[finite]) if finite.any() else 0.0
    keep = finite
    for i in range(rounds + 1):
        r = y - (a * x + b)  # stable pixels: close to the current fit (the first: an offset only)
        mad = np.median(np.abs(r[keep] - np.median(r[keep]))) * 1.4826
        keep = finite & (np.abs(r) < 2.5 * max(mad, 1e-4))
        if i == rounds or keep.sum() < 100 or _spread(x[keep]) < 1e-3:
            break
        a = _spread(y[keep]) / _spread(x[keep])
        b = float(np.median(y[keep]) - a * np.median(x[keep]))
    if not 0.3 < a < 3.0:  # a degenerate fit (little texture): offset only
        a, b = 1.0, float(np.median(y - x))
    return float(a), float(b)


def _auto_threshold(score: np.ndarray, sigma: float, params: Params) -> float:
    floor = max(params.k_sigma * sigma, params.min_threshold)
    positive = score[score > 0]
    if positive.size < 50 or np.ptp(positive) <= 0:
        return floor
    return float(max(threshold_otsu(positive), floor))


@dataclass
class _Piece:
    kind: str
    geometry: shapely.Geometry
    pixels: int
    total: float
    conf: float
    #: touches the bottom edge of its window and a window lies below: may go on in the next row
    open: bool = False


def _detect_task(before: Source, after: Source, grid: Grid, win: Window, kind: str, params: Params,
                 a: float, b: float, thresholds: dict[str, float]) -> tuple[list[_Piece], int, int]:
    s, core = _scores(before, after, grid, win, kind, params, a, b)
    pieces: list[_Piece] = []
    transform = grid.transform @ Affine.translation(win.col_off, win.row_off)
    selem = disk(params.opening_px) if params.opening_px > 0 else None
    for name, score in (("loss", s.loss), ("gain", s.gain)):
        if name not in thresholds:  # gain not asked for
            continue
        t, low = thresholds[name], thresholds[f"{name}_low"]
        # hysteresis: cores above the threshold, grown through pixels above the noise floor
        mask = apply_hysteresis_threshold(score, low, t) if low < t else score > t
        if selem is not None:
            mask = ndimage.binary_opening(mask, selem)
        mask = remove_small_holes(mask, max_size=max(4, 4 * params.tolerance_px ** 2))
        mask = mask[core] & s.valid[core]
        if not mask.any():
            continue
        labels, n = ndimage.label(mask)
        sc = score[core]
        conf = np.clip(0.5 + 0.5 * (sc - t) / t, 0.5, 1.0)
        counts = np.bincount(labels.ravel(), minlength=n + 1)
        totals = np.bincount(labels.ravel(), weights=np.maximum(sc, t).ravel(), minlength=n + 1)
        confs = np.bincount(labels.ravel(), weights=conf.ravel(), minlength=n + 1)
        bottom = np.zeros(n + 1, dtype=bool)
        if win.row_off + win.height < grid.height:  # a row of windows below: pieces on this edge may go on
            bottom[labels[-1]] = True
        for geom, value in shapes(labels.astype("int32"), mask=labels > 0, transform=transform):
            v = int(value)
            pieces.append(_Piece(name, shapely.geometry.shape(geom), int(counts[v]), float(totals[v]), float(confs[v]),
                                 bool(bottom[v])))
    core_valid = s.valid[core]
    return pieces, int(core_valid.sum()), int(core_valid.size - core_valid.sum())


def _merge(pieces: list[_Piece], kind: str) -> list[_Piece]:
    """Pieces of one kind cut by window edges → one piece per connected area, with the pixel count,
    score and confidence sums of its pieces; open when any of its pieces is."""
    mine = [p for p in pieces if p.kind == kind]
    if not mine:
        return []
    geoms = np.array([p.geometry for p in mine], dtype=object)
    merged = shapely.unary_union(shapely.make_valid(geoms))
    parts = np.array(shapely.get_parts(merged), dtype=object)
    parts = parts[shapely.get_type_id(parts) == 3]
    tree = shapely.STRtree(parts)
    points = shapely.point_on_surface(geoms)
    src, dst = tree.query(points, predicate="within")
    pixels = np.zeros(len(parts))
    total = np.zeros(len(parts))
    conf = np.zeros(len(parts))
    is_open = np.zeros(len(parts), dtype=bool)
    np.add.at(pixels, dst, [mine[i].pixels for i in src])
    np.add.at(total, dst, [mine[i].total for i in src])
    np.add.at(conf, dst, [mine[i].conf for i in src])
    np.logical_or.at(is_open, dst, [mine[i].open for i in src])
    return [_Piece(kind, parts[j], int(pixels[j]), float(total[j]), float(conf[j]), bool(is_open[j]))
            for j in range(len(parts)) if pixels[j] > 0]


class _Mosaic:
    """Pieces of the windows → events, one row of windows at a time, so that memory does not grow with
    the raster.

    When a row of windows is done its pieces are merged (``_merge``) with the areas left open by the
    row above. A merged area that touches the bottom of the row may go on below: it stays, as one
    piece, for the next row; every other area is finished: its area is measured and it is kept as an
    event (≥ the minimum mapping unit) or dropped. Memory holds the pieces of one row of windows,
    the open areas along one boundary and the kept events — never every piece of the raster.
    (Hand-written: the merge is shapely's; what no library does is to know, from the window layout,
    which areas can still grow.)"""

    def __init__(self, crs: CRS, mmu_ha: float) -> None:
        self.crs, self.mmu_ha = crs, mmu_ha
        self.row: list[_Piece] = []
        self.open: list[_Piece] = []
        self.events: list[Event] = []

    def add(self, pieces: list[_Piece]) -> None:
        self.row.extend(pieces)

    def end_row(self) -> None:
        # the areas left open above go on only through this row's pieces that touch its bottom
        pool, self.row = [replace(p, open=False) for p in self.open] + self.row, []
        merged = _merge(pool, "loss") + _merge(pool, "gain")
        self.open = [p for p in merged if p.open]
        done = [p for p in merged if not p.open]
        areas = _areas_ha([p.geometry for p in done], self.crs)
        for p, area in zip(done, areas, strict=True):
            if area >= self.mmu_ha:
                self.events.append(Event(p.kind, p.geometry, p.pixels, p.total / p.pixels, p.conf / p.pixels,
                                         float(area)))


def _imap(executor: Executor | None, workers: int, fn: Callable, jobs: Iterable[tuple], ahead: int) -> Iterator:
    """``fn(*job)`` for each job, in order, in parallel, with at most ``ahead`` jobs submitted and not yet
    consumed: results (pieces) do not pile up in futures, and no worker waits for a batch to end."""
    if executor is None and workers <= 1:
        yield from (fn(*job) for job in jobs)
        return
    pool = executor or ThreadPoolExecutor(workers)
    pending: deque[Future] = deque()
    try:
        for job in jobs:
            pending.append(pool.submit(fn, *job))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        if executor is None:
            pool.shutdown(wait=True)


def _areas_ha(geoms: list[shapely.Geometry], crs: CRS) -> np.ndarray:
    if not geoms:
        return np.zeros(0)
    if crs.to_epsg() == AREA_EPSG:
        return shapely.area(np.array(geoms, dtype=object)) / 1e4
    t = Transformer.from_crs(crs, AREA_EPSG, always_xy=True)
    projected = shapely.transform(np.array(geoms, dtype=object),
                                  lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    return shapely.area(projected) / 1e4


def default_mmu(grid: Grid) -> float:
    return MMU_UAV_HA if grid.res < 1.0 else MMU_SATELLITE_HA


def detect(before: Source, after: Source, params: Params | None = None, *, executor: Executor | None = None,
           progress: Callable[[int, int], None] | None = None) -> Result:
    """Change between ``before`` and ``after``: see the module docstring."""
    params = params or Params()
    started = time.perf_counter()
    if before.location == after.location:
        raise ChangeInputError(f"Hai lần chụp là cùng một ảnh / before and after are the same raster ({before.id})")
    if params.threshold is not None and not 0 < params.threshold < 2:
        raise ChangeInputError(f"Ngưỡng phải trong (0, 2) / threshold must be in (0, 2), got {params.threshold}")
    if params.mmu_ha is not None and params.mmu_ha < 0:
        raise ChangeInputError(f"Diện tích tối thiểu phải ≥ 0 / --mmu-ha must be ≥ 0, got {params.mmu_ha}")
    kind = index_kind(before, after)
    grid = common_grid(before, after, params.resolution)
    if params.cloud_mask and kind == "ndvi":
        before, after = replace(before, clouds=_reflectance(before)), replace(after, clouds=_reflectance(after))
    if params.smooth_px is None:
        params = replace(params, smooth_px=1.5 if grid.res < 1.0 else 0.0)
    windows = _windows(grid, params.window)
    step = max(1, len(windows) // params.sample_windows)
    sample = windows[::step][: params.sample_windows]
    ahead = max(2, params.workers * 4)
    samples = list(_imap(executor, params.workers, _sample_task,
                         [(before, after, grid, w, kind, params) for w in sample], ahead))
    cat = {k: np.concatenate([s[k] for s in samples]) for k in ("before", "after", "lo", "hi", "bx", "by")}
    if cat["before"].size < 100:
        raise ChangeInputError(
            f"Vùng chồng phủ không có đủ điểm ảnh hợp lệ (mây, nodata) / the overlap of {before.id} and "
            f"{after.id} has almost no valid pixels (nodata, cloud, shadow)")
    a, b = robust_fit(cat["bx"], cat["by"]) if cat["bx"].size >= 200 else robust_fit(cat["before"], cat["after"])
    diff = cat["after"] - (a * cat["before"] + b)
    sigma = float(np.median(np.abs(diff - np.median(diff))) * 1.4826)
    loss = (a * cat["lo"] + b) - cat["after"]
    gain = cat["after"] - (a * cat["hi"] + b)
    floor = max(params.k_sigma * sigma, params.min_threshold)
    thresholds = {"loss": params.threshold or _auto_threshold(loss, sigma, params)}
    if params.gain:
        thresholds["gain"] = params.threshold or _auto_threshold(gain, sigma, params)
    for name in list(thresholds):
        thresholds[f"{name}_low"] = min(floor, thresholds[name]) if params.threshold is None else thresholds[name]
    mmu = params.mmu_ha if params.mmu_ha is not None else default_mmu(grid)
    mosaic = _Mosaic(grid.crs, mmu)
    valid = masked = 0
    jobs = ((before, after, grid, w, kind, params, a, b, thresholds) for w in windows)
    for done, (win, (pieces, v, m)) in enumerate(
            zip(windows, _imap(executor, params.workers, _detect_task, jobs, ahead), strict=True), start=1):
        mosaic.add(pieces)
        valid, masked = valid + v, masked + m
        if win.col_off + win.width >= grid.width:  # the last window of its row
            mosaic.end_row()
        if progress:
            progress(done, len(windows))
    kept = sorted(mosaic.events, key=lambda e: -e.area_ha)
    return Result(before=before, after=after, grid=grid, index=kind, normalisation=(a, b), thresholds=thresholds,
                  sigma=sigma, events=kept, valid_pixels=valid, masked_pixels=masked,
                  seconds=time.perf_counter() - started, mmu_ha=mmu)


def change_mask(result: Result, kind: str = "loss") -> np.ndarray:
    """The events of ``kind`` rasterised on the grid (for evaluation)."""
    from rasterio.features import rasterize

    geoms = [e.geometry for e in result.events if e.kind == kind]
    if not geoms:
        return np.zeros((result.grid.height, result.grid.width), dtype=bool)
    return rasterize(geoms, out_shape=(result.grid.height, result.grid.width), transform=result.grid.transform,
                     dtype="uint8").astype(bool)
