"""Independent evaluation pairs (issue 16): the worlds of ``change.eval_scenes`` written as files the way
real products come (see that module's docstring), with their truth. **Evaluation only.**"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.features import shapes
from rasterio.transform import Affine, from_origin
from scipy import ndimage

from change.eval_scenes import (
    CONDITIONS,
    ORIGIN,
    S2_ORIGIN,
    SENSORS,
    EvalPair,
    _blob,
    _burn,
    _camera,
    _s2_world,
    _uav_world,
)

__all__ = ["CONDITIONS", "SENSORS", "EvalPair", "eval_pair", "eval_set"]


# --- geometry and files ------------------------------------------------------------------------------

def _sample(canvas: np.ndarray, rows: np.ndarray, cols: np.ndarray, factor: float) -> np.ndarray:
    """Bands of ``canvas`` at fractional pixel positions (bilinear); blurred first when the new grid is
    coarser (a camera integrates over its pixel)."""
    out = []
    for band in canvas:
        if factor > 1.05:
            band = ndimage.gaussian_filter(band, 0.45 * factor)
        out.append(ndimage.map_coordinates(band, [rows, cols], order=1, cval=np.nan))
    return np.stack(out).astype("float32")


def _footprint(rng: np.random.Generator, x0: float, y0: float, size_m: float) -> shapely.Geometry:
    """An OpenDroneMap-like irregular footprint (world coordinates) covering most of the extent."""
    c = (x0 + size_m / 2, y0 - size_m / 2)
    return _blob(rng, c[0], c[1], size_m * 0.62).intersection(shapely.box(x0, y0 - size_m, x0 + size_m, y0))


def _write(path: Path, data: np.ndarray, transform: Affine, epsg: int, *, dtype: str, nodata=None,
           descriptions: list[str] | None = None, alpha: np.ndarray | None = None, jpeg: bool = False,
           tags: dict | None = None, scales: tuple | None = None) -> Path:
    count = data.shape[0] + (alpha is not None)
    profile = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=count, dtype=dtype,
                   crs=f"EPSG:{epsg}", transform=transform, tiled=True, blockxsize=256, blockysize=256)
    if jpeg:
        profile.update(compress="jpeg", photometric="ycbcr", jpeg_quality=88)
    else:
        profile.update(compress="deflate")
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data.astype(dtype), indexes=list(range(1, data.shape[0] + 1)))
        if alpha is not None:
            ds.write(alpha.astype(dtype), count)
            ci = [rasterio.enums.ColorInterp.red, rasterio.enums.ColorInterp.green, rasterio.enums.ColorInterp.blue]
            ds.colorinterp = ci + [rasterio.enums.ColorInterp.alpha]
        for i, d in enumerate(descriptions or [], start=1):
            ds.set_band_description(i, d)
        if tags:
            ds.update_tags(**tags)
        if scales:
            ds.scales, ds.offsets = scales
    return path


def eval_pair(folder: Path, sensor: str, condition: str, seed: int, change: bool = True,
              size: int | None = None) -> EvalPair:
    """One evaluation pair of ``sensor`` under ``condition`` (``none`` for a plain pair)."""
    rng = np.random.default_rng(10_000 + seed * 7 + SENSORS.index(sensor) * 1000)
    uav = sensor != "s2"
    res = 0.10 if uav else 10.0
    n = size or (1600 if uav else 400)
    m = 12
    epsg, origin = (9215, ORIGIN) if uav else (32648, S2_ORIGIN)
    if uav:
        d1, d2, cut = _uav_world(rng, n + 2 * m, res, condition, change)
        hidden = np.zeros((n + 2 * m,) * 2, bool)
    else:
        d1, d2, cut, hidden = _s2_world(rng, n + 2 * m, condition, change)
    cx0, cy0 = origin[0] - m * res, origin[1] + m * res  # the canvas's top-left corner (world)
    to_world = [1, 0, 0, -1, cx0, cy0]
    truth = [shapely.affinity.affine_transform(g, to_world) for g in cut]
    extent = shapely.box(origin[0], origin[1] - n * res, origin[0] + n * res, origin[1])
    # the after date: misregistered (sub-pixel), perhaps on another grid
    mag = rng.uniform(2.0, 3.0) if condition == "misregistration" else rng.uniform(0.3, 1.2)
    ang = rng.uniform(0, 2 * math.pi)
    shift = (round(mag * math.cos(ang), 2), round(mag * math.sin(ang), 2))  # px (x, y): content displaced by
    res2, n2, ox, oy = res, n, origin[0], origin[1]
    if condition == "other_grid":
        res2 = res * rng.uniform(1.15, 1.45)
        ox, oy = origin[0] + n * res * rng.uniform(0.1, 0.2), origin[1] - n * res * rng.uniform(0.05, 0.15)
        n2 = int(n * res / res2)
    rr, cc = np.mgrid[0:n2, 0:n2].astype("float32")
    cols = (ox - cx0) / res + (cc + 0.5) * res2 / res - 0.5 + shift[0]
    rows = (cy0 - oy) / res + (rr + 0.5) * res2 / res - 0.5 + shift[1]
    after = _sample(d2, rows, cols, res2 / res)
    before = d1[:, m:m + n, m:m + n]
    extent2 = shapely.box(ox, oy - n2 * res2, ox + n2 * res2, oy)
    seen = extent.intersection(extent2)
    fb = fa = None
    if condition == "alpha_nodata":
        fb, fa = _footprint(rng, origin[0], origin[1], n * res), _footprint(rng, ox, oy, n2 * res2)
        seen = seen.intersection(fb).intersection(fa)
    t1, t2 = from_origin(origin[0], origin[1], res, res), from_origin(ox, oy, res2, res2)
    excluded = extent.difference(seen)
    if hidden.any():
        h = hidden[m:m + n, m:m + n]
        excluded = excluded.union(shapely.union_all([shapely.geometry.shape(g) for g, _ in shapes(
            h.astype("uint8"), mask=h, transform=t1)]).buffer(2 * res))
    folder.mkdir(parents=True, exist_ok=True)
    name = f"ev_{sensor}_{condition}_{seed:02d}" + ("" if change else "_nochange")
    paths = []
    for date, (img, t, fp) in enumerate(((before, t1, fb), (after, t2, fa))):
        shape = img.shape[1:]
        inside = ~np.isnan(img).any(axis=0)
        if fp is not None:
            inv = ~t
            inside &= _burn([shapely.affinity.affine_transform(fp, [inv.a, inv.b, inv.d, inv.e, inv.c, inv.f])],
                            shape, 1.0)
        img = np.nan_to_num(img)
        path = folder / f"{name}_{'ab'[date]}.tif"
        if sensor == "uav_rgb":
            dn = _camera(img, rng, date, condition)
            dn[:, ~inside] = 0
            alpha = np.where(inside, 255, 0) if fp is not None else None
            _write(path, dn, t, epsg, dtype="uint8", alpha=alpha, jpeg=alpha is None and seed % 2 == 0,
                   nodata=None if alpha is not None or seed % 2 == 0 else 0)
        elif sensor == "uav_ms":
            refl = img[:5] * (rng.uniform(0.9, 1.1) if date else 1.0)  # calibration panel error
            refl = refl + rng.normal(0, 0.004, refl.shape)
            refl[:, ~inside] = -10000
            _write(path, refl, t, epsg, dtype="float32", nodata=-10000,
                   descriptions=["Blue", "Green", "Red", "RedEdge", "NIR"])
        else:
            six = seed % 2 == 1
            idx = [0, 1, 2, 4] + ([5, 6] if six else [])
            refl = img[idx]
            if six:  # SWIR is 20 m: blocks of 2 × 2
                for k in (4, 5):
                    refl[k] = np.repeat(np.repeat(refl[k][::2, ::2], 2, 0), 2, 1)[:shape[0], :shape[1]]
            names = ["B02", "B03", "B04", "B08"] + (["B11", "B12"] if six else [])
            tags, scales, add = None, None, 0
            if condition == "offsets":
                if seed % 2 == 0:
                    add, tags = 1000, {"BOA_ADD_OFFSET": "-1000", "BOA_QUANTIFICATION_VALUE": "10000",
                                       "PROCESSING_BASELINE": "05.09"}
                else:
                    add, scales = 1000, ((1e-4,) * len(idx), (-0.1,) * len(idx))
            dn = np.clip(refl * 10000 + add, 1, 65535)
            dn[:, ~inside] = 0
            _write(path, dn, t, epsg, dtype="uint16", nodata=0, descriptions=names, tags=tags, scales=scales)
        paths.append(path)
    truth = [g.intersection(seen) for g in truth]
    truth = [g for g in truth if g.area > 0]
    mmu = 0.05 if uav else 0.5  # the detector's defaults: the hidden pairs were run with them
    return EvalPair(name, "uav" if uav else "s2", sensor, condition, paths[0], paths[1], truth,
                    excluded if not excluded.is_empty else None, mmu, shift, area_km2=seen.area / 1e6)


#: seed sets of the full evaluation: ``v1`` (run on 2026-12-04 with the detector of that day — seen before),
#: ``v2`` (new: never run before the detector of issue 16's second session was final). Per set, the first
#: seed of the pairs with change and of the no-change pairs; the generator's streams of the two sets differ
#: (see ``eval_pair``: 10 000 + 7·seed + 1 000·sensor)
SEED_SETS = {"v1": (0, 50), "v2": (300, 360)}


def eval_set(folder: Path, quick: bool = False, seeds: str = "v1") -> list[EvalPair]:
    """Every sensor × condition (full) or a few small pairs (quick), plus no-change pairs; ``seeds``: which
    seed set (``SEED_SETS``) of the full evaluation."""
    first, first_still = SEED_SETS[seeds]
    out = []
    if quick:
        for i, (sensor, cond) in enumerate([("uav_rgb", "leaf_off"), ("uav_rgb", "misregistration"),
                                            ("uav_ms", "alpha_nodata"), ("s2", "clouds"), ("s2", "offsets")]):
            out.append(eval_pair(folder, sensor, cond, 90 + i, size=900 if sensor != "s2" else 250))
        out.append(eval_pair(folder, "s2", "haze", 97, change=False, size=250))
        out.append(eval_pair(folder, "uav_rgb", "haze", 98, change=False, size=900))
        return out
    for sensor in SENSORS:
        for i, cond in enumerate(CONDITIONS):
            if sensor != "s2" and cond == "clouds":
                continue  # drones fly under the clouds (their fog is the haze condition)
            out.append(eval_pair(folder, sensor, cond, first + i))
        for i, cond in enumerate(["leaf_off", "haze", "misregistration"]):
            out.append(eval_pair(folder, sensor, cond, first_still + i, change=False))
    return out
