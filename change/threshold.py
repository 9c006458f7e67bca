"""Step 6 — thresholds chosen per pair from the data: the first date's forest / non-forest split and the
loss and gain thresholds, each by Otsu's method (``skimage.filters.threshold_otsu``) on a systematic
sample of the pair, inside bounds that are physical (see the constants), never tuned to test scenes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.morphology import disk

from change.features import Fit
from change.radiometry import robust_fit

#: forest of the first date: the Otsu split of its index, within these bounds. NDVI: bare soil, rock and
#: water lie below 0.35, any closed canopy above 0.6 (so a scene of forest only is not split in two).
#: ExG on chromatic coordinates: soil, slash, char and grey bark are at or below 0.03; any green crown above
#: 0.2 (the chromatic green excess of leaves under white light)
FOREST_BOUNDS = {"ndvi": (0.35, 0.6), "exg": (0.03, 0.2)}
#: NDVI below which the second date is no forest: bare soil, slash, char and sparse regrowth lie below it;
#: a leafless deciduous stand over its evergreen understorey and litter stays above (0.45–0.6 in the dry
#: season at 10 m)
BARE_NDVI = 0.45
#: a leafless or lost crown whose crown-scale texture stays at this share of the first date's has kept
#: its structure: leaf-off, not loss (texture of bare ground, slash, char is a fraction of a canopy's)
STRUCTURE_KEPT = 0.8


#: a loss area that is nearly all edge (its interior, the texture window inside it, below this share of its
#: pixels) is not judged by texture: a trail or a small clearing is all edge, and there the window sees
#: the forest beside it
MIN_INNER_SHARE = 0.25


def structure_veto(mask: np.ndarray, after_tex: np.ndarray, before_tex: np.ndarray, kept_share: float,
                   radius_px: int) -> np.ndarray:
    """Loss pixels of drone imagery judged by crown structure pixel by pixel, not per merged area: in the
    interior of an area (``radius_px``, the texture window, inside it) a pixel that kept ``kept_share`` of
    the first date's texture is a leafless crown, not loss; pixels that lost it are loss, and so is the
    edge of the area within ``radius_px`` of them (there the texture window sees the neighbours). So a
    clearing beside leafless crowns keeps its area and the crowns are dropped. Areas that are nearly all
    edge (``MIN_INNER_SHARE``) are kept whole. (Hand-written: a morphological reconstruction from seeds;
    the operations are scipy's.)"""
    if not mask.any():
        return mask
    selem = disk(max(1, radius_px))
    inner = ndimage.binary_erosion(mask, selem)
    labels, n = ndimage.label(mask)
    share = ndimage.sum_labels(inner, labels, np.arange(n + 1)) / np.maximum(
        np.bincount(labels.ravel(), minlength=n + 1), 1)
    edge_only = share < MIN_INNER_SHARE
    edge_only[0] = False
    # a seed is where most of the texture window lost its structure, not a lone pixel (sensor noise, a
    # crown's shadow that moved): the lost share, averaged over the window's σ, above one half
    lost = ndimage.gaussian_filter((after_tex < kept_share * before_tex).astype("float32"), radius_px / 3) > 0.5
    lost &= inner
    return mask & (edge_only[labels] | ndimage.binary_dilation(lost, selem))


@dataclass
class Choice:
    fit: Fit
    thresholds: dict[str, float]
    sigma: float
    forest_share: float


def otsu(values: np.ndarray, floor: float, ceiling: float = np.inf) -> float:
    values = values[np.isfinite(values)]
    if values.size < 50 or np.ptp(values) <= 0:
        return floor
    return float(min(max(threshold_otsu(values), floor), ceiling))


def choose(cat: dict[str, np.ndarray], kind: str, min_threshold: float, threshold: float | None, gain: bool,
           bands: tuple = ()) -> Choice:
    lo_b, hi_b = FOREST_BOUNDS[kind]
    t_forest = otsu(cat["i1"], lo_b, hi_b)
    forest_blocks = cat["bi1"] > t_forest
    pick = forest_blocks if forest_blocks.sum() >= 200 else np.ones_like(forest_blocks)
    a, b = robust_fit(cat["bi1"][pick], cat["bi2"][pick])
    tex = (1.0, 0.0)
    if cat["bt1"].size:
        tex = robust_fit(cat["bt1"][pick], cat["bt2"][pick])
    # not forest on the second date. NDVI (reflectances keep their meaning): below BARE_NDVI, or below the
    # split carried by the fit if that is higher (the fit is made on forest and is not extrapolated down to
    # soil). ExG of an uncalibrated camera (white balance, exposure, season move the canopy's ExG, not the
    # soil's): below the first date's split carried over, or below the second date's own split
    if kind == "ndvi":
        bare = max(a * min(t_forest, BARE_NDVI) + b, min(t_forest, BARE_NDVI))
    else:
        bare = max(a * t_forest + b, otsu(cat["i2"], lo_b, hi_b))
    fit = Fit(bands=bands, index=(a, b), texture=tex, forest=t_forest, bare=bare)
    forest = cat["f1"] > t_forest
    diff = cat["i2"] - (a * cat["i1"] + b)
    sigma = float(np.median(np.abs(diff[forest] - np.median(diff[forest]))) * 1.4826) if forest.sum() > 50 else 0.0
    loss = a * cat["lo"] + b - cat["i2"]
    candidates = forest & (loss > 0)  # unchanged forest (noise) and change: Otsu splits them
    thresholds = {"loss": threshold or otsu(loss[candidates], min_threshold)}
    if gain:
        g = cat["i2"] - (a * cat["hi"] + b)
        thresholds["gain"] = threshold or otsu(g[g > 0], min_threshold)
    for name in list(thresholds):  # hysteresis: cores above the threshold, grown down to the noise floor
        thresholds[f"{name}_low"] = thresholds[name] if threshold else min(min_threshold, thresholds[name])
    return Choice(fit, thresholds, sigma, float(forest.mean()) if forest.size else 0.0)
