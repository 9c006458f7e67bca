"""Step 4 — relative radiometric normalisation between the dates, on pseudo-invariant pixels chosen
automatically: a robust linear fit ``after ≈ a·before + b`` (reduced major axis on interquartile ranges,
iteratively reweighted: pixels beyond 2.5 robust σ of the residual dropped, repeated), on block means of
the pixels that are forest on the first date (what is cut is a minority of them; fields and paddies,
which change with the season, are left out of the fit)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: correlation of the kept pixels below which a slope is not fitted (offset only)
MIN_CORRELATION = 0.5


def _mode(v: np.ndarray) -> float:
    """The peak of a smoothed histogram: the unchanged majority, even when a third has changed."""
    counts, edges = np.histogram(v, bins=200)
    peak = int(np.argmax(ndimage.gaussian_filter1d(counts.astype(float), 2)))
    return float((edges[peak] + edges[peak + 1]) / 2)


def _spread(v: np.ndarray) -> float:
    q75, q25 = np.percentile(v, [75, 25])
    return float(q75 - q25)


def robust_fit(x: np.ndarray, y: np.ndarray, rounds: int = 4, fallback: str = "offset") -> tuple[float, float]:
    """``y ≈ a·x + b`` on stable pixels, by matching the spread and centre of the two distributions
    (reduced major axis with interquartile ranges: unlike least squares it is not pulled towards a
    flat line by noise in ``x``), dropping pixels beyond 2.5 robust σ of the residual, repeated.
    When the dates hardly agree pixel for pixel, ``fallback``: ``offset`` (``a = 1``: haze, path radiance
    are additive) or ``gain`` (``b = 0``: exposure, white balance of a camera are multiplicative)."""
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.sum() < 20:
        return 1.0, 0.0
    a, b = 1.0, _mode(y[finite] - x[finite])
    keep = finite
    for i in range(rounds + 1):
        r = y - (a * x + b)  # stable pixels: close to the current fit (the first: an offset only)
        mad = np.median(np.abs(r[keep] - np.median(r[keep]))) * 1.4826
        keep = finite & (np.abs(r) < 2.5 * max(mad, 1e-4))
        if i == rounds or keep.sum() < 100 or _spread(x[keep]) < 1e-3:
            break
        a = _spread(y[keep]) / _spread(x[keep])
        b = float(np.median(y[keep]) - a * np.median(x[keep]))
    # a slope needs the dates to agree pixel for pixel; when they hardly do (crown-scale variation, a
    # shift, much change) only the offset is trusted: the peak of the differences (the unchanged majority)
    r = float(np.corrcoef(x[keep], y[keep])[0, 1]) if keep.sum() > 10 and _spread(x[keep]) > 0 else 0.0
    if not 0.3 < a < 3.0 or not r > MIN_CORRELATION:
        if fallback == "gain" and np.median(x[finite]) > 0:
            a, b = float(np.median(y[finite]) / np.median(x[finite])), 0.0
        else:
            a, b = 1.0, _mode(y[finite] - x[finite])
    return float(a), float(b)


def band_fits(before: dict[str, np.ndarray], after: dict[str, np.ndarray], fallback: str,
              ) -> dict[str, tuple[float, float]]:
    """Per band, ``after ≈ a·before + b`` on the block means given (the first date's forest)."""
    return {name: robust_fit(before[name], after[name], fallback=fallback) for name in before
            if before[name].size >= 50}


def block_means(values: list[np.ndarray], valid: np.ndarray, size: int = 8) -> list[np.ndarray]:
    """Means of ``size``² blocks wholly valid (per-pixel noise, 8-bit shade, texture averaged out)."""
    h, w = (valid.shape[0] // size) * size, (valid.shape[1] // size) * size
    if not h or not w:
        return [np.zeros(0, "float32") for _ in values]
    full = valid[:h, :w].reshape(h // size, size, w // size, size).all(axis=(1, 3))
    return [v[:h, :w].reshape(h // size, size, w // size, size).mean(axis=(1, 3))[full] for v in values]
