"""Detection core: two rasters → forest-loss (and vegetation-gain) polygons, window by window.

Steps, one module each (each a library call where one exists):

1. ``grid``: one grid for both dates (common CRS, the coarser resolution, 0.25 m at the finest for
   drones; the overlap, which must be a stated share of the smaller raster).
2. ``reading``: reflectance from whatever the file says (GDAL scale/offset, ``BOA_ADD_OFFSET``, data
   type); alpha / nodata / internal masks; SCL or a spectral cloud and shadow test (satellites).
3. ``features``: NDVI (red + NIR) or ExG on chromatic coordinates (RGB), smoothed in metres for drones;
   crown-scale texture for drones (what a leafless crown keeps and cleared ground loses).
4. ``radiometry``: the first date normalised to the second by a robust fit on pseudo-invariant pixels:
   block means of the first date's forest.
5. ``registration``: the second date's georeferencing error by sub-pixel phase correlation, corrected.
6. ``threshold``: forest of the first date, loss and gain thresholds by Otsu on the pair's own sample,
   within physical bounds. Loss counts only inside the first date's forest, where the second date is
   not forest (index below the forest split, and for drones without the crown texture of the first).
7. ``polygons``: opening, hole filling, polygons, merged across windows one row of windows at a time,
   minimum mapping unit; magnitude and confidence per event.

Statistics (steps 4 and 6) come from a systematic sample of at most ``sample_windows`` windows;
detection then runs over every window in parallel (any ``concurrent.futures.Executor``), a task being
the rasters' locations and a window: whoever runs it reads the pixels. Memory is bounded by
``window`` × workers, whatever the raster size.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace

import numpy as np
from rasterio.features import rasterize
from rasterio.transform import Affine
from rasterio.windows import Window
from scipy import ndimage
from skimage.filters import apply_hysteresis_threshold
from skimage.morphology import disk, remove_small_holes

from change.errors import ChangeInputError
from change.features import (
    TEXTURE_SIGMA_M,
    Fit,
    band_names,
    date_features,
    first_forest_index,
    forest_mask_note,
    is_uav,
    scores,
)
from change.grid import (
    AREA_EPSG,
    Grid,
    Source,
    common_grid,
    expanded,
    file_source,
    index_kind,
    roles_from_file,
    windows,
)
from change.parallel import imap
from change.polygons import Event, Mosaic, Piece, pieces_of
from change.radiometry import band_fits, block_means, robust_fit
from change.reading import is_reflectance
from change.registration import Registration, register
from change.threshold import FOREST_BOUNDS, STRUCTURE_KEPT, choose, otsu, structure_veto

__all__ = ["AREA_EPSG", "Event", "Grid", "Params", "Result", "Source", "change_mask", "common_grid", "detect",
           "file_source", "index_kind", "robust_fit", "roles_from_file"]

#: default minimum mapping units (ha): UAV (GSD < 1 m) and satellite
MMU_UAV_HA, MMU_SATELLITE_HA = 0.05, 0.5
#: the share of a pair that must be seen (not cloud, shadow, nodata) for a comparison to mean anything
MIN_VALID_SHARE = 0.02


@dataclass(frozen=True)
class Params:
    threshold: float | None = None  # override of the automatic loss/gain threshold (index units)
    mmu_ha: float | None = None  # None: 0.05 ha below 1 m GSD, else 0.5 ha
    resolution: float | None = None  # working resolution in grid units (m); None: see change.grid
    tolerance_px: int = 1  # residual misregistration tolerated after co-registration (pixels)
    #: threshold floor (index units): NDVI / ExG differences between stands of one healthy canopy
    min_threshold: float = 0.08
    gain: bool = True  # report gains too
    cloud_mask: bool = True
    register: bool = True  # find and correct the second date's georeferencing error
    window: int = 1024
    workers: int = max(1, os.cpu_count() or 1)
    sample_windows: int = 24
    opening_px: int = 1
    structure_kept: float = STRUCTURE_KEPT


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
    registration: Registration = field(default_factory=Registration)
    forest_threshold: float = 0.0
    forest_share: float = 0.0

    @property
    def megapixels(self) -> float:
        return self.grid.width * self.grid.height / 1e6

    @property
    def masked_ha(self) -> float:
        return self.masked_pixels * self.grid.res ** 2 / 1e4


def _band_task(before: Source, after: Source, grid: Grid, win: Window, kind: str, params: Params,
               ) -> dict[str, np.ndarray]:
    """First pass: block means of every band of both dates, and of the first date's index."""
    big, core = expanded(grid, win, 0)
    fb, fa = date_features(before, grid, big, kind), date_features(after, grid, big, kind)
    valid = fb.valid & fa.valid
    names = [n for n in band_names(before, kind) if n in fb.bands and n in fa.bands]
    blocks = block_means([fb.index] + [fb.bands[n] for n in names] + [fa.bands[n] for n in names], valid)
    out = {"bi1": blocks[0], "i1": fb.index[valid][:: max(1, int(valid.sum() // 20000))]}
    for i, n in enumerate(names):
        out[f"b1_{n}"], out[f"b2_{n}"] = blocks[1 + i], blocks[1 + len(names) + i]
    return out


def _band_fit(cat: dict[str, np.ndarray], kind: str, uav: bool) -> tuple[tuple[str, tuple[float, float]], ...]:
    """Per-band normalisation on the block means of the first date's forest (pseudo-invariant: what is cut
    is a minority of it; fields and paddies, which change with the season, are left out)."""
    forest = cat["bi1"] > otsu(cat["i1"], *FOREST_BOUNDS[kind])
    pick = forest if forest.sum() >= 200 else np.ones_like(forest)
    names = [k[3:] for k in cat if k.startswith("b1_")]
    # a camera's exposure and white balance multiply; a satellite's haze and path radiance add
    fits = band_fits({n: cat[f"b1_{n}"][pick] for n in names}, {n: cat[f"b2_{n}"][pick] for n in names},
                     "gain" if uav else "offset")
    return tuple(sorted(fits.items()))


def _sample_task(before: Source, after: Source, grid: Grid, win: Window, kind: str, params: Params,
                 fit: Fit) -> dict[str, np.ndarray]:
    s, core = scores(before, after, grid, win, kind, params.tolerance_px, fit)
    valid = s.valid[core]
    step = max(1, int(math.sqrt(valid.size / 65536)))
    pick = valid[::step, ::step]
    size = 2 * params.tolerance_px + 1

    def sub(arr: np.ndarray) -> np.ndarray:
        return arr[core][::step, ::step][pick]

    # min/max filters commute with a positive linear map: keep the raw filtered before values
    i1 = s.before.index
    out = {"i1": sub(i1), "i2": sub(s.after.index),
           "f1": sub(first_forest_index(s.before, grid, params.tolerance_px)),
           "lo": sub(ndimage.minimum_filter(np.where(s.before.valid, i1, np.inf), size=size)),
           "hi": sub(ndimage.maximum_filter(np.where(s.before.valid, i1, -np.inf), size=size)),
           "n_valid": np.array([valid.sum()]), "n_all": np.array([valid.size])}
    arrays = [x[core] for x in (i1, s.after.index)]
    if s.before.texture is not None:
        arrays += [s.before.texture[core], s.after.texture[core]]
    blocks = block_means(arrays, valid)
    out["bi1"], out["bi2"] = blocks[0], blocks[1]
    out["bt1"], out["bt2"] = (blocks[2], blocks[3]) if len(blocks) > 2 else (np.zeros(0), np.zeros(0))
    return out


def _detect_task(before: Source, after: Source, grid: Grid, win: Window, kind: str, params: Params, fit: Fit,
                 thresholds: dict[str, float]) -> tuple[list[Piece], int, int]:
    s, core = scores(before, after, grid, win, kind, params.tolerance_px, fit)
    pieces: list[Piece] = []
    transform = grid.transform @ Affine.translation(win.col_off, win.row_off)
    selem = disk(params.opening_px) if params.opening_px > 0 else None
    for name, score in (("loss", s.loss), ("gain", s.gain)):
        if name not in thresholds:  # gain not asked for
            continue
        t, low = thresholds[name], thresholds[f"{name}_low"]
        if name == "loss":  # loss only inside the first date's forest, where the second is not forest
            score = np.where(s.forest & s.bare, score, 0.0)
        # hysteresis: cores above the threshold, grown through pixels above the lower one
        mask = apply_hysteresis_threshold(score, low, t) if low < t else score > t
        if selem is not None:
            mask = ndimage.binary_opening(mask, selem)
        mask = remove_small_holes(mask, max_size=max(4, 4 * params.tolerance_px ** 2))
        texture = inner = None
        if name == "loss" and s.texture is not None:  # interior: the texture window (3 σ) inside the area
            radius = max(1, round(3 * TEXTURE_SIGMA_M / grid.res))
            mask = structure_veto(mask, s.texture[0], s.texture[1], params.structure_kept, radius)
            inner = ndimage.binary_erosion(mask, disk(radius))[core]
            texture = (s.texture[0][core], s.texture[1][core])
        mask = mask[core] & s.valid[core]
        if inner is not None:
            inner &= mask
        open_bottom = win.row_off + win.height < grid.height
        pieces += pieces_of(name, mask, score[core], t, transform, open_bottom, texture, inner)
    core_valid = s.valid[core]
    return pieces, int(core_valid.sum()), int(core_valid.size - core_valid.sum())


def default_mmu(grid: Grid) -> float:
    return MMU_UAV_HA if is_uav(grid) else MMU_SATELLITE_HA


def _check(before: Source, after: Source, params: Params) -> None:
    if before.location == after.location:
        raise ChangeInputError(f"Hai lần chụp là cùng một ảnh / before and after are the same raster ({before.id})")
    if params.threshold is not None and not 0 < params.threshold < 2:
        raise ChangeInputError(f"Ngưỡng phải trong (0, 2) / threshold must be in (0, 2), got {params.threshold}")
    if params.mmu_ha is not None and params.mmu_ha < 0:
        raise ChangeInputError(f"Diện tích tối thiểu phải ≥ 0 / --mmu-ha must be ≥ 0, got {params.mmu_ha}")


def detect(before: Source, after: Source, params: Params | None = None, *, executor: Executor | None = None,
           progress: Callable[[int, int], None] | None = None) -> Result:
    """Change between ``before`` and ``after``: see the module docstring."""
    params = params or Params()
    started = time.perf_counter()
    _check(before, after, params)
    kind = index_kind(before, after)
    grid = common_grid(before, after, params.resolution)
    if params.cloud_mask and kind == "ndvi":
        before, after = replace(before, clouds=is_reflectance(before)), replace(after, clouds=is_reflectance(after))
    reg = register(before, after, grid) if params.register else Registration()
    after = replace(after, shift=reg.shift_m(grid))
    wins = windows(grid, params.window)
    step = max(1, len(wins) // params.sample_windows)
    sample = wins[::step][: params.sample_windows]
    ahead = max(2, params.workers * 4)
    first = list(imap(executor, params.workers, _band_task,
                      [(before, after, grid, w, kind, params) for w in sample], ahead))
    blocks = {k: np.concatenate([s[k] for s in first]) for k in first[0]}
    bands = _band_fit(blocks, kind, is_uav(grid))
    samples = list(imap(executor, params.workers, _sample_task,
                        [(before, after, grid, w, kind, params, Fit(bands=bands)) for w in sample], ahead))
    cat = {k: np.concatenate([s[k] for s in samples]) for k in samples[0]}
    seen = cat["n_valid"].sum() / max(1, cat["n_all"].sum())
    if cat["i1"].size < 100 or seen < MIN_VALID_SHARE:
        raise ChangeInputError(
            f"Vùng chồng phủ gần như không nhìn thấy mặt đất ({seen:.1%}: mây, bóng mây, nodata) / the overlap of "
            f"{before.id} and {after.id} has almost no valid pixels ({seen:.1%} seen: cloud, shadow, nodata): "
            f"choose another date")
    choice = choose(cat, kind, params.min_threshold, params.threshold, params.gain, bands)
    mmu = params.mmu_ha if params.mmu_ha is not None else default_mmu(grid)
    mosaic = Mosaic(grid.crs, mmu, params.structure_kept)
    valid = masked = 0
    jobs = ((before, after, grid, w, kind, params, choice.fit, choice.thresholds) for w in wins)
    for done, (win, (pieces, v, m)) in enumerate(
            zip(wins, imap(executor, params.workers, _detect_task, jobs, ahead), strict=True), start=1):
        mosaic.add(pieces)
        valid, masked = valid + v, masked + m
        if win.col_off + win.width >= grid.width:  # the last window of its row
            mosaic.end_row()
        if progress:
            progress(done, len(wins))
    kept = sorted(mosaic.events, key=lambda e: -e.area_ha)
    notes = [f"co-registration / đăng ký ảnh: dx {reg.dx_px:+.2f} px, dy {reg.dy_px:+.2f} px "
             f"({reg.windows} of {reg.tried} windows agree; dates correlate {reg.correlation:.2f})",
             f"forest of the first date / rừng ngày đầu: {kind.upper()} > {choice.fit.forest:.3f} "
             f"({choice.forest_share:.0%} of the sample); {forest_mask_note(before, grid)}"]
    return Result(before=before, after=after, grid=grid, index=kind, normalisation=choice.fit.index,
                  thresholds=choice.thresholds, sigma=choice.sigma, events=kept, valid_pixels=valid,
                  masked_pixels=masked, seconds=time.perf_counter() - started, mmu_ha=mmu, notes=notes,
                  registration=reg, forest_threshold=choice.fit.forest, forest_share=choice.forest_share)


def change_mask(result: Result, kind: str = "loss") -> np.ndarray:
    """The events of ``kind`` rasterised on the grid (for evaluation)."""
    geoms = [e.geometry for e in result.events if e.kind == kind]
    if not geoms:
        return np.zeros((result.grid.height, result.grid.width), dtype=bool)
    return rasterize(geoms, out_shape=(result.grid.height, result.grid.width), transform=result.grid.transform,
                     dtype="uint8").astype(bool)
