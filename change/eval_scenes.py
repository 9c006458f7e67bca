"""Independent evaluation scenes (issue 16): written from the issue's list of conditions, not from
``change/synthetic.py`` (nothing of it is imported), with their own seeds. **Evaluation only**: no
detector parameter may be chosen by looking at the scores these pairs give.

A scene is rendered from a world model, not from filtered noise:

- terrain: hills from a spectral (1/f²) height field, shaded per date by the sun's elevation and azimuth
  (slopes shade differently on the two dates);
- UAV (0.10 m): a canopy height model of individual crowns (domes 1.2–5 m in radius, varied green and
  height), acacia rows in a plantation block, shade in the gaps (occlusion); crowns shaded by the sun
  of the date; leaf-off deciduous crowns (grey-brown branches, still domed); clearings of red-brown
  laterite with slash (woody debris), skid trails and a log landing, or burnt (char and ash);
  paddies / crops that change with the season, old grass clearings regrowing;
- Sentinel-2 (10 m): the same classes at 10 m reflectance, clouds with their shadows projected from
  the sun's angles, haze, an SCL band on some pairs;
- radiometry between dates: white balance, exposure, haze, noise, blur; geometry: a sub-pixel
  misregistration of 1–3 px, another grid (GSD, origin, partial overlap); conventions: RGBA with an
  irregular alpha footprint (OpenDroneMap), JPEG compression, float32 reflectance, uint16 with
  ``BOA_ADD_OFFSET`` or with GDAL scale/offset, 4 or 6 bands.

Each pair has one **condition** (what is hard about it) and a sensor (``uav_rgb``, ``uav_ms``, ``s2``);
no-change pairs have an empty truth (false alarms per area are their score).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.features import rasterize, shapes
from rasterio.transform import Affine, from_origin
from scipy import ndimage

CONDITIONS = ["misregistration", "other_grid", "leaf_off", "clouds", "haze", "offsets", "alpha_nodata",
              "crops_paddies", "burnt"]
SENSORS = ["uav_rgb", "uav_ms", "s2"]
#: surface reflectance of the classes: blue, green, red, red edge, NIR, SWIR 1.6, SWIR 2.2
SPECTRA = {
    "leaf": (0.030, 0.070, 0.035, 0.20, 0.38, 0.17, 0.08),
    "acacia": (0.028, 0.075, 0.032, 0.22, 0.42, 0.18, 0.08),
    "branches": (0.080, 0.095, 0.110, 0.15, 0.20, 0.26, 0.19),  # leafless crown: bark and twigs
    "laterite": (0.090, 0.130, 0.220, 0.26, 0.28, 0.36, 0.30),
    "slash": (0.070, 0.090, 0.110, 0.17, 0.22, 0.30, 0.24),
    "char": (0.030, 0.032, 0.035, 0.045, 0.06, 0.10, 0.09),
    "ash": (0.15, 0.16, 0.17, 0.19, 0.20, 0.22, 0.20),
    "paddy_green": (0.040, 0.100, 0.050, 0.22, 0.35, 0.20, 0.10),
    "paddy_water": (0.060, 0.070, 0.060, 0.05, 0.04, 0.02, 0.01),
    "ploughed": (0.070, 0.100, 0.150, 0.19, 0.21, 0.30, 0.25),
    "grass_dry": (0.060, 0.090, 0.110, 0.19, 0.25, 0.30, 0.22),
    "grass_green": (0.040, 0.090, 0.060, 0.22, 0.33, 0.24, 0.13),
    "cloud": (0.55, 0.55, 0.56, 0.57, 0.58, 0.40, 0.30),
}
BAND_NAMES = ["blue", "green", "red", "rededge", "nir", "swir16", "swir22"]
ORIGIN = (435_000.0, 2_420_000.0)  # EPSG:9215 (VN-2000 / TM-3 107°15′), west of Lạng Sơn city
S2_ORIGIN = (690_000.0, 2_418_000.0)  # EPSG:32648 (UTM 48N)


@dataclass
class EvalPair:
    name: str
    resolution: str  # uav | s2 (for the scorer)
    sensor: str
    condition: str
    before: Path
    after: Path
    truth: list[shapely.Geometry]
    excluded: shapely.Geometry | None
    mmu_ha: float
    misregistration_px: tuple[float, float]
    area_km2: float = 0.0
    notes: list[str] = field(default_factory=list)


def _spectral_field(rng: np.random.Generator, shape: tuple[int, int], beta: float) -> np.ndarray:
    """Gaussian field with power spectrum 1/f^beta (FFT synthesis), zero mean, unit variance."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    amp = f ** (-beta / 2)
    amp[0, 0] = 0
    spec = amp * (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape))
    out = np.fft.irfft2(spec, s=shape).astype("float32")
    return (out - out.mean()) / (out.std() + 1e-9)


def _shade(height: np.ndarray, res: float, sun_elev: float, sun_az: float) -> np.ndarray:
    """Lambertian cosine of the sun on the surface (hillshade), 0–1."""
    dzdy, dzdx = np.gradient(height, res)
    el, az = math.radians(sun_elev), math.radians(sun_az)
    # surface normal (−dz/dx, dz/dy (north up, rows down), 1); sun vector towards azimuth (clockwise from north)
    sx, sy, sz = math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)
    n = np.sqrt(dzdx ** 2 + dzdy ** 2 + 1)
    return np.clip((-dzdx * sx + dzdy * sy + sz) / n, 0.05, 1.0)


def _blob(rng: np.random.Generator, cx: float, cy: float, r: float) -> shapely.Geometry:
    k = int(rng.integers(9, 16))
    ang = np.sort(rng.uniform(0, 2 * math.pi, k))
    rad = r * np.exp(rng.normal(0, 0.22, k))
    return shapely.Polygon(np.column_stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)])).buffer(
        r * 0.15).simplify(r * 0.03)


def _clearings(rng: np.random.Generator, size_m: float, areas_m2: list[float], avoid: shapely.Geometry,
               skid: bool) -> list[shapely.Geometry]:
    """Clearing polygons in metres (scene frame: x right, y down), with skid trails and landings."""
    out: list[shapely.Geometry] = []
    for area in areas_m2:
        for _ in range(200):
            r = math.sqrt(area / math.pi)
            cx, cy = rng.uniform(r * 1.6 + 5, size_m - r * 1.6 - 5, 2)
            g = _blob(rng, cx, cy, r)
            if skid and rng.random() < 0.7:  # a skid trail (3–4 m) dragging logs out, and a log landing
                a = rng.uniform(0, 2 * math.pi)
                length = r * rng.uniform(1.0, 1.8)
                end = (cx + length * math.cos(a), cy + length * math.sin(a))
                trail = shapely.LineString([(cx, cy), end]).buffer(rng.uniform(1.5, 2.0), cap_style="flat")
                landing = shapely.box(end[0] - 6, end[1] - 5, end[0] + 6, end[1] + 5)
                g = shapely.union_all([g, trail, landing])
            b = g.bounds
            if b[0] < 3 or b[1] < 3 or b[2] > size_m - 3 or b[3] > size_m - 3:
                continue
            if g.buffer(8).intersects(avoid) or any(g.buffer(8).intersects(o) for o in out):
                continue
            out.append(g)
            break
    return out


def _burn(geoms: list, shape: tuple[int, int], res: float) -> np.ndarray:
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros(shape, bool)
    return rasterize(geoms, out_shape=shape, transform=Affine.scale(res, res), dtype="uint8").astype(bool)


def _spec(name: str) -> np.ndarray:
    return np.array(SPECTRA[name], dtype="float32")


def _paint(img: np.ndarray, mask: np.ndarray, name: str, texture: np.ndarray, amount: float = 0.15) -> None:
    img[:, mask] = _spec(name)[:, None] * (1 + amount * texture[mask])[None, :]


# --- UAV world ---------------------------------------------------------------------------------------

def _crowns(rng: np.random.Generator, n: int, res: float, plantation: shapely.Geometry | None,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canopy height (m), crown id (0: gap) and per-crown vigour, for an ``n``² scene at ``res`` m."""
    chm = np.full((n, n), 1.5, "float32")  # understorey
    ids = np.zeros((n, n), "int32")
    size_m = n * res
    centres: list[tuple[float, float, float, float]] = []
    count = int(size_m ** 2 / 14)  # crowded natural canopy: crowns overlap
    for _ in range(count):
        x, y = rng.uniform(0, size_m, 2)
        if plantation is not None and plantation.contains(shapely.Point(x, y)):
            continue
        r = float(np.clip(rng.lognormal(math.log(2.4), 0.35), 1.2, 5.0))
        centres.append((x, y, r, r * rng.uniform(3.0, 4.5)))
    if plantation is not None:  # acacia rows: 3 m between rows, 2 m along them, small even crowns
        x0, y0, x1, y1 = plantation.bounds
        for yy in np.arange(y0 + 1.5, y1, 3.0):
            for xx in np.arange(x0 + 1.0, x1, 2.0):
                if plantation.contains(shapely.Point(xx, yy)):
                    centres.append((xx + rng.normal(0, 0.2), yy + rng.normal(0, 0.2), 1.3, 9.0))
    vigour = np.exp(rng.normal(0, 0.15, len(centres) + 1)).astype("float32")
    for k, (x, y, r, h) in enumerate(centres, start=1):
        c0, c1 = max(0, int((x - r) / res)), min(n, int((x + r) / res) + 1)
        r0, r1 = max(0, int((y - r) / res)), min(n, int((y + r) / res) + 1)
        if c0 >= c1 or r0 >= r1:
            continue
        yy, xx = np.mgrid[r0:r1, c0:c1]
        d2 = ((xx + 0.5) * res - x) ** 2 + ((yy + 0.5) * res - y) ** 2
        dome = np.where(d2 < r * r, h - 1.2 * r + 1.2 * np.sqrt(np.maximum(r * r - d2, 0)), 0).astype("float32")
        top = dome > chm[r0:r1, c0:c1]
        chm[r0:r1, c0:c1][top] = dome[top]
        ids[r0:r1, c0:c1][top] = k
    return chm, ids, vigour


def _uav_world(rng: np.random.Generator, n: int, res: float, condition: str, change: bool,
               ) -> tuple[np.ndarray, np.ndarray, list[shapely.Geometry]]:
    """Reflectance (7 bands) of two dates and the cleared polygons (metres, scene frame)."""
    size_m = n * res
    terrain = _spectral_field(rng, (n, n), 4.0) * 6.0  # hills: ±6 m over the flight, slopes of 10–30 %
    mixed = rng.random() < 0.5 or condition == "crops_paddies"
    plantation = shapely.box(0, 0, size_m * 0.45, size_m * 0.5) if mixed else None
    field_poly = shapely.box(size_m * 0.62, size_m * 0.7, size_m, size_m) if condition == "crops_paddies" \
        or rng.random() < 0.3 else None
    grass = _blob(rng, size_m * 0.2, size_m * 0.8, size_m * 0.09)  # an old clearing, grass on both dates
    avoid = shapely.union_all([g for g in (field_poly, grass) if g is not None])
    chm, ids, vigour = _crowns(rng, n, res, plantation)
    open_land = _burn([avoid], (n, n), res)  # no trees on the grass and the fields
    chm[open_land], ids[open_land] = 0.3, 0
    area_ha = size_m ** 2 / 1e4
    areas = [rng.uniform(0.07, 0.12) * 1e4 * area_ha / 2.5 for _ in range(int(rng.integers(2, 4)))] if change else []
    cut = _clearings(rng, size_m, areas, avoid, skid=True)
    tex = _spectral_field(rng, (n, n), 2.0)
    fine = rng.normal(0, 1, (n, n)).astype("float32")
    dates = []
    suns = [(rng.uniform(50, 70), rng.uniform(100, 160)), (rng.uniform(30, 48), rng.uniform(190, 250))]
    cut_mask = _burn(cut, (n, n), res)
    deciduous = rng.random(vigour.size) < (0.45 if condition == "leaf_off" else 0.1)
    for d, (elev, az) in enumerate(suns):
        forest_chm = np.where(cut_mask, 0.0, chm) if d == 1 else chm
        surface = terrain + forest_chm
        shade = _shade(surface, res, elev, az)
        gap = ndimage.maximum_filter(forest_chm, size=int(1.5 / res)) - forest_chm
        occlusion = np.clip(1 - gap / 6.0, 0.25, 1.0)
        light = (0.25 + 0.75 * shade) * occlusion
        img = _spec("leaf")[:, None, None] * vigour[ids][None] * np.ones((7, n, n), "float32")
        if plantation is not None:
            block = _burn([plantation], (n, n), res) & (ids > 0)
            img[:, block] = _spec("acacia")[:, None] * vigour[ids[block]][None]
        if d == 1 and deciduous.any():
            bare = deciduous[ids] & (ids > 0)
            twigs = np.clip(0.8 + 0.35 * fine[bare], 0.3, 1.5)
            img[:, bare] = _spec("branches")[:, None] * twigs[None] * (0.6 + 0.4 * img[1, bare] / 0.07)[None]
        _paint(img, _burn([grass], (n, n), res), "grass_dry" if d == 0 else "grass_green", tex, 0.2)
        if field_poly is not None:
            fm = _burn([field_poly], (n, n), res)
            _paint(img, fm, "paddy_green" if d == 0 else ("paddy_water" if rng.random() < 0.5 else "ploughed"),
                   tex, 0.15)
        img *= light[None]
        if d == 1 and cut:
            burnt = condition == "burnt"
            soil = "char" if burnt else "laterite"
            _paint(img, cut_mask, soil, tex, 0.25)
            debris = cut_mask & (_spectral_field(rng, (n, n), 3.0) > (0.2 if burnt else 0.0))
            _paint(img, debris, "ash" if burnt else "slash", fine, 0.35)
            img[:, cut_mask] *= (0.55 + 0.45 * _shade(terrain, res, elev, az)[cut_mask])[None]
        dates.append(img)
    return dates[0], dates[1], cut


def _camera(img: np.ndarray, rng: np.random.Generator, date: int, condition: str) -> np.ndarray:
    """8-bit RGB of a consumer drone camera: exposure, white balance, gamma, haze/fog, blur, noise."""
    rgb = img[[2, 1, 0]].copy()
    if date == 1:
        wb = np.array([rng.uniform(0.85, 1.15), 1.0, rng.uniform(0.85, 1.15)], "float32")[:, None, None]
        rgb *= wb * rng.uniform(0.7, 1.4)  # exposure of the other flight
        if condition == "haze":
            n = rgb.shape[1]
            fog = np.clip(_spectral_field(rng, (n, n), 4.0) * 0.6 + 0.3, 0, 1)  # fog patches
            rgb += (0.03 + 0.05 * fog)[None] * np.array([0.9, 1.0, 1.1], "float32")[:, None, None]
        rgb = ndimage.gaussian_filter(rgb, (0, 0.7, 0.7))  # motion / focus blur
    dn = 255 * np.clip(rgb * 2.2, 0, 1) ** (1 / 2.2)
    dn += rng.normal(0, 2.0, dn.shape)
    return np.clip(dn, 1, 255).astype("uint8")


# --- Sentinel-2 world --------------------------------------------------------------------------------

def _s2_world(rng: np.random.Generator, n: int, condition: str, change: bool,
              ) -> tuple[np.ndarray, np.ndarray, list[shapely.Geometry], np.ndarray]:
    res = 10.0
    terrain = _spectral_field(rng, (n, n), 4.0) * 120.0
    valley = terrain < np.quantile(terrain, 0.22)  # paddies and fields in the valley floors
    stands = _spectral_field(rng, (n, n), 3.0)
    tex = _spectral_field(rng, (n, n), 1.5)
    shrub = (~valley) & (_spectral_field(rng, (n, n), 3.5) > 1.1)
    forest = ~valley & ~shrub
    avoid = shapely.union_all([shapely.geometry.shape(g) for g, v in shapes(
        (~forest).astype("uint8"), mask=~forest, transform=Affine.scale(res, res))]).buffer(20)
    count = int(rng.integers(4, 8)) if change else 0
    cut = _clearings(rng, n * res, [rng.uniform(0.8, 6.0) * 1e4 for _ in range(count)], avoid, skid=False)
    cut_mask = _burn(cut, (n, n), res)
    deciduous = stands > (0.3 if condition == "leaf_off" else 1.5)
    dates, hidden = [], np.zeros((n, n), bool)
    suns = [(rng.uniform(35, 45), rng.uniform(140, 160)), (rng.uniform(55, 70), rng.uniform(110, 130))]
    for d, (elev, az) in enumerate(suns):
        img = _spec("leaf")[:, None, None] * (1 + 0.08 * stands)[None] * np.ones((7, n, n), "float32")
        if d == 1:
            img[:, deciduous] = 0.5 * _spec("leaf")[:, None] + 0.5 * _spec("branches")[:, None]
        _paint(img, shrub, "grass_dry" if d == 0 else "grass_green", tex, 0.15)
        season = ["paddy_green", "paddy_water", "ploughed"]
        _paint(img, valley, season[int(rng.integers(0, 3))] if condition == "crops_paddies" or d == 0
               else "paddy_green", tex, 0.1)
        if d == 1 and cut:
            _paint(img, cut_mask, "char" if condition == "burnt" else "laterite", tex, 0.2)
            regrow = cut_mask & (tex > 0.8)
            _paint(img, regrow, "slash", tex, 0.1)
        img *= (0.55 + 0.45 * _shade(terrain, res, elev, az))[None]
        img += rng.uniform(0.0, 0.012) * np.array([1, 0.8, 0.6, 0.5, 0.4, 0.2, 0.1], "float32")[:, None, None]
        if condition == "haze" and d == 1:
            img += (0.04 + 0.03 * np.clip(_spectral_field(rng, (n, n), 4.0), -1, 1))[None] * np.array(
                [1, 0.8, 0.6, 0.45, 0.35, 0.15, 0.08], "float32")[:, None, None]
        if condition == "clouds" and d == 1:
            cover = ndimage.gaussian_filter(_spectral_field(rng, (n, n), 3.5), 2) > 1.0
            opacity = np.clip(ndimage.gaussian_filter(cover.astype("float32"), 2.5) * 1.6, 0, 1)
            height, zen = rng.uniform(800, 2000), math.radians(90 - elev)  # cloud base; shadow cast away from the sun
            dist = height * math.tan(zen) / res
            dy, dx = dist * math.cos(math.radians(az)), -dist * math.sin(math.radians(az))
            shadow = ndimage.shift(opacity, (dy, dx), order=1, cval=0)
            img *= (1 - 0.7 * shadow)[None]
            img = img * (1 - opacity)[None] + _spec("cloud")[:, None, None] * opacity[None]
            hidden |= (opacity > 0.02) | (shadow > 0.02)
        img += rng.normal(0, 0.003, img.shape).astype("float32")
        dates.append(img)
    return dates[0], dates[1], cut, hidden


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


def _write(path: Path, data: np.ndarray, transform: Affine, epsg: int, *, dtype: str, nodata=None,  # noqa: ANN001
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


def eval_set(folder: Path, quick: bool = False) -> list[EvalPair]:
    """Every sensor × condition (full) or a few small pairs (quick), plus no-change pairs."""
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
            out.append(eval_pair(folder, sensor, cond, i))
        for i, cond in enumerate(["leaf_off", "haze", "misregistration"]):
            out.append(eval_pair(folder, sensor, cond, 50 + i, change=False))
    return out
