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
import shapely
from rasterio.features import rasterize, shapes
from rasterio.transform import Affine
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
    # clearings of 0.07–0.12 ha on a 2.5 ha flight, never below 1.3 × the drone MMU (0.05 ha) on smaller ones
    areas = [max(rng.uniform(0.07, 0.12) * 1e4 * area_ha / 2.5, 650.0)
             for _ in range(int(rng.integers(2, 4)))] if change else []
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
