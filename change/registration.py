"""Step 5 — co-registration: the second date's georeferencing error, found by sub-pixel phase
correlation (``skimage.registration.phase_cross_correlation``) of log brightness on a few windows of
the grid, their median taken; the second date is then read through a grid shifted by it. The shift is
reported (``Result.registration``); a pair whose windows disagree (no common structure) is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from change.grid import Grid, Source
from change.reading import read

#: largest shift accepted (m on the ground): a drone's GNSS without RTK errs 1–5 m; a satellite stack
#: from another processing chain (or a resampled product) up to 3 px of 10 m; beyond, the pair is
#: not one place
MAX_SHIFT_M = {"uav": 6.0, "satellite": 50.0}
#: window side (px) and how many windows are correlated
SIDE, COUNT = 384, 5


@dataclass(frozen=True)
class Registration:
    dx_px: float = 0.0  # columns: the after's pixels are this far east (+) of where its georeference says
    dy_px: float = 0.0  # rows: … this far south (+)
    windows: int = 0  # windows that agreed
    error: float = 1.0  # phase correlation error of the median window (0: perfect)
    tried: int = 0  # windows correlated (enough valid pixels on both dates)
    #: median over the windows of each date's own structure (lag-1 autocorrelation, the lower of the two)
    #: and of the dates' correlation once shifted: structure without correlation = two different places
    structure: float = 0.0
    correlation: float = 1.0

    def shift_m(self, grid: Grid) -> tuple[float, float]:
        """The translation (grid units) to add to the after's read grid."""
        return (self.dx_px * grid.res, -self.dy_px * grid.res)


def _image(src: Source, grid: Grid, win: Window) -> tuple[np.ndarray, np.ndarray]:
    names = [b for b in ("red", "green", "blue", "nir") if b in src.roles][:3]
    data, valid = read(src, grid, win, names)
    img = np.log(np.maximum(data.mean(axis=0), 1e-3))
    fill = float(np.median(img[valid])) if valid.any() else 0.0
    return np.where(valid, img - fill, 0.0), valid


def _lag1(img: np.ndarray) -> float:
    """Correlation of an image with itself one pixel east: near 0 for noise, high for relief and stands."""
    a, b = img[:, :-1].ravel(), img[:, 1:].ravel()
    return float(np.corrcoef(a, b)[0, 1]) if a.std() and b.std() else 0.0


def register(before: Source, after: Source, grid: Grid) -> Registration:
    side = min(SIDE, grid.width, grid.height)
    if side < 32:
        return Registration()
    limit = MAX_SHIFT_M["uav" if grid.res < 1.0 else "satellite"] / grid.res
    spots = [(0.5, 0.5), (0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)][:COUNT]
    found, tried, structure, correlation = [], 0, [], []
    for fx, fy in spots:
        c = int(min(max(0, fx * grid.width - side / 2), grid.width - side))
        r = int(min(max(0, fy * grid.height - side / 2), grid.height - side))
        win = Window(c, r, side, side)
        ib, vb = _image(before, grid, win)
        ia, va = _image(after, grid, win)
        if (vb & va).mean() < 0.5:
            continue
        tried += 1
        shift, error, _ = phase_cross_correlation(ib, ia, upsample_factor=20, normalization=None)
        structure.append(min(_lag1(ib), _lag1(ia)))
        moved = ndimage.shift(ia, shift, order=1, mode="nearest")
        correlation.append(float(np.corrcoef(ib.ravel(), moved.ravel())[0, 1]) if ib.std() and moved.std() else 0.0)
        if np.all(np.abs(shift) <= limit):
            found.append((float(shift[0]), float(shift[1]), float(error)))
    seen = dict(tried=tried, structure=float(np.median(structure)) if structure else 0.0,
                correlation=float(np.median(correlation)) if correlation else 1.0)
    if not found:
        return Registration(**seen)
    arr = np.array(found)
    dy, dx = np.median(arr[:, 0]), np.median(arr[:, 1])
    agree = int((np.hypot(arr[:, 0] - dy, arr[:, 1] - dx) < 0.75).sum())
    if agree < max(1, (len(found) + 1) // 2):  # windows disagree: no reliable common structure
        return Registration(windows=agree, error=float(np.median(arr[:, 2])), **seen)
    # the after's content must move by (dy, dx) to register: it lies (−dy, −dx) from its true place
    return Registration(dx_px=-float(dx), dy_px=-float(dy), windows=agree, error=float(np.median(arr[:, 2])),
                        **seen)
