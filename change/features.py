"""Step 3 — what each date says about forest, per window: a vegetation index, and for drone imagery the
crown-scale texture that a leafless crown keeps and cleared ground loses.

- **Index.** NDVI when both dates have red and NIR, else ExG on chromatic coordinates (2g − r − b with
  r + g + b = 1, insensitive to brightness). Drone imagery: of the bands smoothed by a masked Gaussian of
  ``INDEX_SIGMA_M`` (leaves and the sunlit/shaded sides of a crown are not change).
- **Texture (drones).** The local standard deviation of log brightness over ``TEXTURE_SIGMA_M``: a
  closed canopy of crowns shades itself (sunlit tops, dark gaps) whatever the sun's position, with or
  without leaves; bare soil, slash, char and grass are flat at that scale. Log brightness: a brighter or
  darker flight (exposure, white balance, sun elevation) multiplies brightness and leaves it unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window
from scipy import ndimage

from change.grid import Grid, Source, expanded
from change.reading import read

#: Gaussian σ of the index on drone imagery: half the smallest crown radius (1.2 m) — leaf-scale and
#: crown-side differences are not change
INDEX_SIGMA_M = 0.6
#: texture: σ of the pre-smoothing (JPEG blocks, sensor noise) and of the local variance (one crown radius
#: of 1.5–3 m: the window spans a crown and the gaps around it)
TEXTURE_PRESMOOTH_M, TEXTURE_SIGMA_M = 0.25, 1.5
#: floor under brightness before the log: 0.5 % reflectance, the noise of a dark gap
DARK_FLOOR = 0.005
#: satellites, first date: green reflectance above which a green surface is a crop or paddy, not forest.
#: A closed canopy is dark in the visible (crowns shade each other, light is trapped between them): L2A
#: B03 of broadleaf and evergreen forest 0.03–0.06. A green crop at full cover (rice, maize, vegetables)
#: is a flat sunlit leaf layer: B03 0.08–0.12 at the same or higher NDVI. The split between the two
CROP_GREEN = 0.075
#: σ (px) of the smoothing of green before that test: a 10 m pixel's noise, not a field, is averaged out
CROP_SMOOTH_PX = 1.0


def forest_mask_note(before: Source, grid: Grid) -> str:
    """Which first-date forest mask the detector used (stated in the result)."""
    if not is_uav(grid) and "green" in before.roles:
        return (f"mask: derived from the first date, index split and green < {CROP_GREEN} (crops and paddies "
                f"left out) / mặt nạ rừng từ ảnh ngày đầu, loại ruộng lúa và hoa màu (lục < {CROP_GREEN})")
    return "mask: derived from the first date, index split / mặt nạ rừng từ chỉ số ảnh ngày đầu"


def first_forest_index(fb: DateFeatures, grid: Grid, tolerance_px: int) -> np.ndarray:
    """The first date's index where forest may be, kept through the misregistration tolerance (an edge may
    move); ``-inf`` where the first date cannot be forest: no data, or (satellites, reflectance with a green
    band) a bright green crop or paddy (``CROP_GREEN``)."""
    possible = fb.valid
    green = fb.bands.get("green")
    if not is_uav(grid) and green is not None:
        possible = possible & (smooth(green, fb.valid, CROP_SMOOTH_PX) < CROP_GREEN)
    return ndimage.maximum_filter(np.where(possible, fb.index, -np.inf), size=2 * tolerance_px + 1)


def is_uav(grid: Grid) -> bool:
    return grid.res < 1.0


def halo(grid: Grid, tolerance_px: int) -> int:
    """Pixels beyond a window that its features depend on (smoothing, texture, min/max filters, dilation)."""
    metres = 3 * (INDEX_SIGMA_M + TEXTURE_SIGMA_M + TEXTURE_PRESMOOTH_M) if is_uav(grid) else 0.0
    return int(math.ceil(metres / grid.res)) + 2 * tolerance_px + 12


def smooth(values: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Masked Gaussian (normalised convolution): invalid pixels neither count nor darken their neighbours."""
    if not sigma or sigma <= 0:
        return values
    weights = ndimage.gaussian_filter(valid.astype("float32"), sigma)
    out = ndimage.gaussian_filter(np.where(valid, values, 0).astype("float32"), sigma) / np.maximum(weights, 1e-6)
    return out.astype("float32")


@dataclass
class DateFeatures:
    index: np.ndarray
    texture: np.ndarray | None
    brightness: np.ndarray
    valid: np.ndarray
    bands: dict[str, np.ndarray | None]


def band_names(src: Source, kind: str) -> list[str]:
    vis = [b for b in ("blue", "green", "red") if b in src.roles]
    return list(dict.fromkeys((["red", "nir"] if kind == "ndvi" else ["red", "green", "blue"]) + vis))


def date_features(src: Source, grid: Grid, win: Window, kind: str,
                  norm: dict[str, tuple[float, float]] | None = None) -> DateFeatures:
    """Index, texture, brightness of one date; ``norm``: per band ``(a, b)`` with ``band ≈ a·reference + b``,
    undone here (the second date brought to the first's radiometry)."""
    vis = [b for b in ("blue", "green", "red") if b in src.roles]
    names = band_names(src, kind)
    data, valid = read(src, grid, win, names)
    band = {n: data[i] for i, n in enumerate(names)}
    for n, (a, b) in (norm or {}).items():
        if n in band:
            band[n] = np.maximum((band[n] - b) / a, 0.0).astype("float32")
    brightness = np.mean([band[n] for n in vis], axis=0).astype("float32")
    texture = None
    index_band = band
    if is_uav(grid):
        if kind == "ndvi":  # NDVI of the neighbourhood (bands smoothed, then the ratio), not the mean of
            # per-pixel ratios: in a gap's deep shade red and NIR are a few DN and their ratio is noise
            index_band = {n: smooth(v, valid, INDEX_SIGMA_M / grid.res) for n, v in band.items()}
        log_b = np.log(np.maximum(smooth(brightness, valid, TEXTURE_PRESMOOTH_M / grid.res), DARK_FLOOR))
        s = TEXTURE_SIGMA_M / grid.res
        mean = smooth(log_b, valid, s)
        texture = np.sqrt(np.maximum(smooth(log_b * log_b, valid, s) - mean * mean, 0)).astype("float32")
    if kind == "ndvi":
        nir, red = index_band["nir"], index_band["red"]
        index = (nir - red) / np.maximum(nir + red, 1e-6)
    else:
        total = np.maximum(index_band["red"] + index_band["green"] + index_band["blue"], 1e-6)
        index = (2 * index_band["green"] - index_band["red"] - index_band["blue"]) / total
    index = np.where(valid, index, 0).astype("float32")
    if is_uav(grid) and kind == "exg":  # ExG's denominator is the sum of three bands: per pixel, then smoothed
        index = smooth(index, valid, INDEX_SIGMA_M / grid.res)
    return DateFeatures(index, texture, brightness, valid, band)


@dataclass
class Scores:
    loss: np.ndarray  # positive: vegetation index lost, after's units
    gain: np.ndarray  # positive: vegetation gained (index)
    forest: np.ndarray  # forest on the first date
    bare: np.ndarray  # the second date looks like no forest
    valid: np.ndarray
    before: DateFeatures
    after: DateFeatures
    texture: tuple[np.ndarray, np.ndarray] | None = None  # drones: crown texture, after and before (normalised)


@dataclass(frozen=True)
class Fit:
    """Radiometric normalisation between the dates, and the forest thresholds."""

    #: per band, ``after ≈ a·before + b`` (undone on the after's bands: it is read in the before's radiometry)
    bands: tuple[tuple[str, tuple[float, float]], ...] = ()
    index: tuple[float, float] = (1.0, 0.0)
    texture: tuple[float, float] = (1.0, 0.0)
    forest: float = -np.inf  # first-date index above this: forest
    bare: float = np.inf  # second-date index below this: no forest (after's units)


def scores(before: Source, after: Source, grid: Grid, win: Window, kind: str, tolerance_px: int,
           fit: Fit = Fit()) -> tuple[Scores, tuple[slice, slice]]:
    big, core = expanded(grid, win, halo(grid, tolerance_px))
    fb, fa = date_features(before, grid, big, kind), date_features(after, grid, big, kind, dict(fit.bands))
    vb, va = fb.valid, fa.valid.copy()
    if not is_uav(grid) and kind == "ndvi":  # cloud shadow: the after much darker than the before (or back)
        ratio = smooth(fa.brightness, va & vb, 2.0) / np.maximum(smooth(fb.brightness, va & vb, 2.0), 1e-4)
        # (a clearing can be 3 × brighter than the forest in the visible, so brighter is not masked by the
        # ratio; a thin cloud is: blue up by more than residual haze after atmospheric correction leaves
        # (≤ 0.05), to above 0.10 — L2A forest blue is 0.01–0.04 —, and as blue as it is red: soil is redder)
        blue_b, blue_a, red_a = fb.bands.get("blue"), fa.bands.get("blue"), fa.bands["red"]
        thin = np.zeros_like(va)
        if blue_a is not None and blue_b is not None:
            thin = (blue_a - blue_b > 0.08) & (blue_a > 0.10) & (blue_a > 0.85 * red_a)
        va &= ~ndimage.binary_dilation((ratio < 0.55) | thin, iterations=tolerance_px + 2)
    valid = vb & va
    a, b = fit.index
    nb = a * fb.index + b  # before, normalised to the after's radiometry
    size = 2 * tolerance_px + 1
    lo = ndimage.minimum_filter(np.where(vb, nb, np.inf), size=size)
    hi = ndimage.maximum_filter(np.where(vb, nb, -np.inf), size=size)
    gain = np.where(valid & np.isfinite(hi), fa.index - hi, 0.0).astype("float32")
    loss = np.where(valid & np.isfinite(lo), lo - fa.index, 0.0).astype("float32")
    forest = first_forest_index(fb, grid, tolerance_px) > fit.forest
    bare = fa.index < fit.bare
    texture = None
    if fb.texture is not None:  # the second date's and the first's (normalised) crown texture
        at, bt = fit.texture
        texture = (fa.texture, at * fb.texture + bt)
    return Scores(loss, gain, forest & valid, bare, valid, fb, fa, texture), core
