"""Evaluation pairs with known truth: synthetic and semi-real (real Landsat pixels + injected clearings).

Every pair is two GeoTIFFs over Lạng Sơn plus the true loss polygons (in the rasters' CRS) and the
area to leave out of the scores (cloud and cloud shadow on either date: nobody can see there).

- ``uav``: 8-bit RGB orthomosaics at 5–10 cm, VN-2000 / TM-3 107°15′: tree crowns (filtered noise
  at crown scale with shade between crowns), tracks and grass patches present on both dates.
- ``s2``: 4-band uint16 reflectance ×10 000 (B02, B03, B04, B08) at 10 m in UTM 48N.
- ``landsat``: the real Landsat scenes of ``tests/data`` (Rondônia, Brazil; Raleigh, USA), as
  reflectance, resampled to 10 m and placed over Lạng Sơn; clearings take the spectrum of the
  scene's own bare pixels.

The second date differs by season (NIR down, red up), illumination (gain), haze (additive path
radiance, strongest in blue), sensor noise, a cloud with its shadow, and a misregistration of
1–3 pixels; clearings are ellipses, irregular star polygons, rectangles (plantation harvest)
and strips (new tracks), all above the minimum mapping unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.features import rasterize, shapes
from rasterio.transform import Affine, from_origin
from scipy import ndimage

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
LANDSAT = {
    "rondonia": DATA / "landsat8_oli_rondonia_brazil_6band.tif",
    "raleigh": DATA / "landsat7_etm_2000_raleigh_nc_6band.tif",
}
CENTRE = (106.75, 21.85)  # Lạng Sơn city

# reflectance spectra (blue, green, red, nir)
CANOPY = np.array([0.025, 0.055, 0.030, 0.32])
SOIL = np.array([0.12, 0.16, 0.21, 0.27])
GRASS = np.array([0.04, 0.09, 0.06, 0.30])
TRACK = np.array([0.15, 0.17, 0.19, 0.22])
BARK = np.array([0.07, 0.08, 0.09, 0.18])  # leafless crowns: bark and twigs
#: a green crop at full cover (rice before heading, maize): a flat, sunlit, leaf-dense surface, brighter than
#: a canopy in green and NIR (no crown shadows), NDVI as high as a forest's
CROP = np.array([0.035, 0.095, 0.045, 0.42])
#: the same field later in the season: harvested stubble over wet soil or a flooded paddy
STUBBLE = np.array([0.07, 0.085, 0.095, 0.15])


@dataclass
class Pair:
    name: str
    resolution: str  # uav | s2
    before: Path
    after: Path
    truth: list[shapely.Geometry]  # loss polygons, rasters' CRS
    excluded: shapely.Geometry | None  # cloud + shadow footprint, rasters' CRS
    mmu_ha: float
    misregistration_px: tuple[int, int]


def _origin(epsg: int, width: int, height: int, res: float,
            centre: tuple[float, float] = CENTRE) -> tuple[float, float]:
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(*centre)
    return x - width * res / 2, y + height * res / 2


def _field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth Gaussian noise of correlation length ``sigma`` px, unit variance (coarse sigmas made small
    and zoomed: fast)."""
    f_ = max(1, int(sigma // 3))
    small = (math.ceil(shape[0] / f_) + 1, math.ceil(shape[1] / f_) + 1)
    f = ndimage.gaussian_filter(rng.normal(size=small).astype("float32"), sigma / f_, mode="wrap")
    if f_ > 1:
        f = ndimage.zoom(f, f_, order=1)
    f = f[: shape[0], : shape[1]]
    return (f - f.mean()) / (f.std() + 1e-9)


def _star(rng: np.random.Generator, cx: float, cy: float, r: float) -> shapely.Geometry:
    n = rng.integers(7, 13)
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = r * rng.uniform(0.6, 1.3, n)
    return shapely.Polygon(np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])).buffer(r * 0.1)


def _shapes(rng: np.random.Generator, size: int, res: float, mmu_ha: float, count: int) -> list[shapely.Geometry]:
    """Clearings in pixel coordinates, 1.5–15 × the MMU, not touching each other."""
    out: list[shapely.Geometry] = []
    tries = 0
    while len(out) < count and tries < 500:
        tries += 1
        area_px = mmu_ha * 1e4 / res ** 2 * rng.uniform(1.5, 15)
        r = math.sqrt(area_px / math.pi)
        margin = r * 1.6 + 8
        if margin * 2 >= size:
            continue
        cx, cy = rng.uniform(margin, size - margin, 2)
        kind = tries % 4
        if kind == 0:
            g = shapely.affinity.rotate(shapely.affinity.scale(shapely.Point(cx, cy).buffer(r), 1.5, 0.66),
                                        rng.uniform(0, 180))
        elif kind == 1:
            g = _star(rng, cx, cy, r)
        elif kind == 2:
            w = math.sqrt(area_px) * rng.uniform(0.6, 1.4)
            h = area_px / w
            g = shapely.affinity.rotate(shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), rng.uniform(0, 90))
        else:  # a strip: a new track or skid trail, at least 4 px wide
            width = max(4.0, min(r * 0.4, 30 / res))
            length = min(area_px / width, size - 2 * margin)
            a = rng.uniform(0, math.pi)
            line = shapely.LineString([(cx - length / 2 * math.cos(a), cy - length / 2 * math.sin(a)),
                                       (cx + length / 2 * math.cos(a), cy + length / 2 * math.sin(a))])
            g = line.buffer(width / 2, cap_style="flat")
        if g.area * res ** 2 / 1e4 < mmu_ha * 1.3:
            continue
        if any(g.buffer(6).intersects(o) for o in out):
            continue
        bounds = g.bounds
        if bounds[0] < 4 or bounds[1] < 4 or bounds[2] > size - 4 or bounds[3] > size - 4:
            continue
        out.append(g)
    return out


def _burn(geoms: list[shapely.Geometry], size: int) -> np.ndarray:
    if not geoms:
        return np.zeros((size, size), dtype=bool)
    return rasterize(geoms, out_shape=(size, size), transform=Affine.identity(), dtype="uint8").astype(bool)


def _cloud(rng: np.random.Generator, size: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Cloud opacity (0–1, soft edge) and a shadow (0–1) cast a little aside."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype("float32")
    cx, cy = rng.uniform(0.15, 0.85, 2) * size
    r = size * rng.uniform(0.06, 0.12)
    d = np.hypot((xx - cx) / 1.3, yy - cy) / r + 0.25 * _field(rng, shape, size / 40)
    cloud = np.clip((1.2 - d) / 0.4, 0, 1)
    sx, sy = int(r * 1.6), int(r * 0.8)
    shadow = np.roll(np.roll(cloud, sy, axis=0), sx, axis=1) * 0.8
    return cloud, shadow


def _scene(rng: np.random.Generator, size: int, crown_px: float, res: float) -> tuple[np.ndarray, np.ndarray]:
    """Bands × size × size reflectance of forest with crowns, grass patches and a track; and where the
    scene is not forest (grass, track)."""
    crowns = _field(rng, (size, size), crown_px / 2)
    fine = _field(rng, (size, size), max(crown_px / 8, 0.7))
    shade = np.clip(0.85 + 0.18 * crowns + 0.05 * fine, 0.45, 1.2)  # gaps between crowns are darker
    if res < 1.0:  # a drone resolves the crowns: sunlit tops, gaps in deep shade (3–6 × darker in photos)
        shade = np.clip(0.8 * np.exp(0.45 * crowns + 0.08 * fine), 0.12, 1.6)
    vigour = _field(rng, (size, size), max(size / 12, 2))  # stands of different vigour
    spec = CANOPY[:, None, None] * np.ones((4, size, size), dtype="float32")
    spec[3] *= 1 + 0.12 * vigour
    spec[2] *= 1 - 0.15 * vigour
    img = spec * shade
    grass = _field(rng, (size, size), size / 10) > 1.6
    img[:, grass] = (GRASS[:, None] * (1 + 0.1 * fine[grass]))
    yy, xx = np.mgrid[0:size, 0:size]
    a, off = rng.uniform(0.2, 1.3), rng.uniform(0.2, 0.8) * size
    track = np.abs((yy - off) - math.tan(a - 0.75) * (xx - size / 2)) < max(2, 4 / res)
    img[:, track] = TRACK[:, None]
    return img.astype("float32"), grass | track


def _crops(seed: int, img: np.ndarray, loss: np.ndarray, res: float) -> np.ndarray:
    """Fields (rice paddies, maize) in a valley bottom: rectangles 40–150 m, each at its own growth stage,
    green on the first date (written into ``img``); returned mask: where the second date has them
    harvested or flooded. A separate generator (``seed`` + 7777): the pair's other draws are unchanged."""
    rng = np.random.default_rng(seed + 7777)
    size = img.shape[1]
    yy, xx = np.mgrid[0:size, 0:size].astype("float32")
    a, off = rng.uniform(-0.6, 0.6), rng.uniform(0.25, 0.75) * size  # the valley: a band across the scene
    valley = np.abs((yy - off) - math.tan(a) * (xx - size / 2)) < size * rng.uniform(0.08, 0.15)
    fields = np.zeros((size, size), dtype=bool)
    for _ in range(int(rng.integers(15, 40))):
        w, h = rng.uniform(40, 150, 2) / res
        x0, y0 = rng.uniform(0, size - w), rng.uniform(0, size - h)
        box = (xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h) & valley & ~loss
        stage = rng.uniform(0.85, 1.1)  # fields planted on different days
        for band in range(4):
            img[band][box] = CROP[band] * (stage if band == 3 else 2 - stage)
        fields |= box
    return fields


def _second_date(rng: np.random.Generator, img: np.ndarray, loss: np.ndarray, bare: np.ndarray,
                 cloud: bool, leaf_off: float = 0.0, fields: np.ndarray | None = None,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The after date: clearings, season, illumination, haze, noise, cloud + shadow; and the cloudy mask.
    ``leaf_off``: share of the canopy in deciduous stands that are leafless (bark and twigs: the crowns'
    shading stays, their colour turns grey-brown; at 10 m a leafless stand still mixes evergreen and
    understorey)."""
    out = img.copy()
    size = img.shape[1:]
    if leaf_off > 0:
        stands = _field(rng, size, max(size[0] / 10, 2))
        ndvi = (img[3] - img[2]) / np.maximum(img[3] + img[2], 1e-6)
        decid = (stands > np.quantile(stands, 1 - leaf_off)) & ~loss & (ndvi > 0.75)  # crowns, not grass
        mix = 1.0 if size[0] > 1000 else 0.5  # drones (≥ 1,000² px flights) see single crowns
        ratio = 1 - mix + mix * BARK / CANOPY
        for band in range(4):
            out[band][decid] *= ratio[band]
    if fields is not None:  # the season moved on: harvested or flooded (not forest loss: no forest there)
        for band in range(4):
            out[band][fields] = STUBBLE[band]
    texture = 1 + 0.12 * _field(rng, size, 3)
    slash = rng.uniform(0, 0.35)  # some clearings keep slash / residues
    for band in range(4):
        out[band][loss] = (bare[band] * (1 - slash) + img[band][loss].mean() * slash) * texture[loss]
    season = np.array([1.05, 1.0, 1.12, 0.9])[:, None, None] * rng.uniform(0.95, 1.05)
    gain = rng.uniform(0.75, 1.35)  # a brighter or darker flight / sun angle
    haze = rng.uniform(0, 0.04) * np.array([1.0, 0.7, 0.5, 0.25])[:, None, None]
    out = out * season * gain + haze
    hidden = np.zeros(size, dtype=bool)
    if cloud:
        c, s = _cloud(rng, size[0], size)
        out = out * (1 - s * 0.75)
        out = out * (1 - c) + 0.55 * c
        hidden = (c > 0.02) | (s > 0.02)
    return out, hidden


def _write(path: Path, img: np.ndarray, epsg: int, transform: Affine, kind: str) -> Path:
    if kind == "uav_ms":  # a multispectral drone: float32 reflectance, named bands
        with rasterio.open(path, "w", driver="GTiff", width=img.shape[2], height=img.shape[1], count=4,
                           dtype="float32", crs=f"EPSG:{epsg}", transform=transform, tiled=True, blockxsize=256,
                           blockysize=256, compress="deflate") as ds:
            ds.write(np.clip(img, 0.001, 1.0).astype("float32"))
            for i, name in enumerate(["blue", "green", "red", "nir"], start=1):
                ds.set_band_description(i, name)
    elif kind == "uav":  # RGB 8-bit, like a plain drone orthomosaic
        rgb = np.clip(img[[2, 1, 0]] * 255 / 0.35, 1, 255).astype("uint8")
        with rasterio.open(path, "w", driver="GTiff", width=rgb.shape[2], height=rgb.shape[1], count=3, dtype="uint8",
                           crs=f"EPSG:{epsg}", transform=transform, photometric="RGB", tiled=True,
                           blockxsize=256, blockysize=256, compress="deflate") as ds:
            ds.write(rgb)
    else:
        data = np.clip(img * 10000, 1, 65535).astype("uint16")
        with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=4,
                           dtype="uint16", crs=f"EPSG:{epsg}", transform=transform, nodata=0, tiled=True,
                           blockxsize=256, blockysize=256, compress="deflate") as ds:
            ds.write(data)
            for i, name in enumerate(["B02", "B03", "B04", "B08"], start=1):
                ds.set_band_description(i, name)
    return path


def _geo(geoms: list[shapely.Geometry], transform: Affine) -> list[shapely.Geometry]:
    return [shapely.affinity.affine_transform(g, [transform.a, transform.b, transform.d, transform.e,
                                                  transform.c, transform.f]) for g in geoms]


def _finish(name: str, kind: str, folder: Path, before: np.ndarray, after: np.ndarray, loss_geoms: list,
            hidden: np.ndarray, shift: tuple[int, int], res: float, epsg: int, mmu: float, size: int,
            margin: int, rng: np.random.Generator) -> Pair:
    """Crop both dates (the after with a misregistration), add noise, write, and georeference the truth."""
    dx, dy = shift
    b = before[:, margin:margin + size, margin:margin + size]
    a = after[:, margin + dy:margin + dy + size, margin + dx:margin + dx + size]
    noise = 0.003 if kind == "s2" else 0.004
    b = b + rng.normal(0, noise, b.shape).astype("float32")
    a = a + rng.normal(0, noise, a.shape).astype("float32")
    transform = from_origin(*_origin(epsg, size, size, res), res, res)
    # the truth where it is on the ground: the before's georeference is right, the after's is off by the
    # shift (the detector co-registers the after to the before)
    to_after = Affine.translation(-margin, -margin)
    truth_px = [shapely.affinity.affine_transform(g, [to_after.a, to_after.b, to_after.d, to_after.e,
                                                      to_after.c, to_after.f]) for g in loss_geoms]
    hid = hidden[margin + dy:margin + dy + size, margin + dx:margin + dx + size]
    excluded = None
    if hid.any():
        polys = [shapely.geometry.shape(g) for g, v in shapes(hid.astype("uint8"), mask=hid, transform=transform)]
        excluded = shapely.unary_union(polys).buffer(3 * res)
    folder.mkdir(parents=True, exist_ok=True)
    pb = _write(folder / f"{name}_before.tif", b, epsg, transform, kind)
    pa = _write(folder / f"{name}_after.tif", a, epsg, transform, kind)
    return Pair(name, "uav" if kind.startswith("uav") else "s2", pb, pa, _geo(truth_px, transform), excluded, mmu,
                shift)


def synthetic_pair(folder: Path, seed: int, kind: str = "s2", size: int | None = None,
                   cloud: bool | None = None, leaf_off: float | None = None, crops: bool = False) -> Pair:
    """A synthetic pair: ``kind`` ``uav`` (5–10 cm RGB), ``uav_ms`` (5–10 cm float32 reflectance, blue, green,
    red, NIR) or ``s2`` (10 m, 4 bands); ``crops``: fields green on the first date, harvested on the second."""
    rng = np.random.default_rng(seed)
    if kind.startswith("uav"):
        res = float(rng.choice([0.05, 0.08, 0.10]))
        size = size or 1400
        epsg, crown = 9215, 3.0 / res
        # a 1,400² flight at 5–10 cm covers 0.5–2 ha: the MMU is scaled to the scene (1/300 of it) so
        # that several clearings fit and change stays a minority (the default 0.05 ha is for whole flights)
        mmu = (size * res) ** 2 / 1e4 / 300
    else:
        res, size, mmu, epsg, crown = 10.0, size or 600, 0.5, 32648, 1.2
    margin = 8
    full = size + 2 * margin
    before, open_land = _scene(rng, full, crown, res)
    geoms = _shapes(rng, size, res, mmu, int(rng.integers(4, 9)))
    geoms = [shapely.affinity.translate(g, margin, margin) for g in geoms]
    loss = _burn(geoms, full)
    fields = _crops(seed, before, loss, res) if crops else None
    truth = _forest_part(geoms, open_land)
    after, hidden = _second_date(rng, before, loss, SOIL * rng.uniform(0.8, 1.2),
                                 cloud if cloud is not None else bool(seed % 2),
                                 leaf_off if leaf_off is not None else (0.3 if seed % 3 == 0 else 0.0), fields)
    shift = (int(rng.integers(-3, 4)), int(rng.integers(-3, 4)))
    if shift == (0, 0):
        shift = (1, -1)
    return _finish(f"{kind}_{seed:03d}", kind, folder, before, after, truth, hidden, shift, res, epsg, mmu, size,
                   margin, rng)


def _forest_part(geoms: list[shapely.Geometry], open_land: np.ndarray) -> list[shapely.Geometry]:
    """The truth: the clearings where the first date was forest (a clearing over a grass patch or a track
    clears no forest there; the issue counts loss only inside the first date's forest)."""
    polys = [shapely.geometry.shape(g) for g, _ in shapes(open_land.astype("uint8"), mask=open_land,
                                                          transform=Affine.identity())]
    if not polys:
        return geoms
    opened = shapely.union_all(polys)
    return [p for p in (g.difference(opened) for g in geoms) if not p.is_empty and p.area > 0]


def _landsat_reflectance(which: str) -> np.ndarray:
    """Blue, green, red, NIR of a real Landsat scene as reflectance (0–1)."""
    with rasterio.open(LANDSAT[which]) as ds:
        bands = ds.read([1, 2, 3, 4], out_dtype="float32")
    if which == "rondonia":  # Collection 2 Level-2 surface reflectance scaling
        refl = bands * 2.75e-5 - 0.2
    else:  # Landsat 7 ETM+ 8-bit DN, 2000: a rough gain to reflectance
        refl = bands / 255.0 * np.array([0.35, 0.35, 0.35, 0.6])[:, None, None] - 0.03
    return np.clip(refl, 0.002, 1.0)


def landsat_pair(folder: Path, seed: int, which: str = "rondonia") -> Pair:
    """A semi-real 10 m pair: a real Landsat scene (upsampled 3×) with clearings injected in its forest."""
    rng = np.random.default_rng(seed)
    refl = _landsat_reflectance(which)
    up = ndimage.zoom(refl, (1, 3, 3), order=1)
    res, epsg, mmu, margin = 10.0, 32648, 0.5, 8
    size = min(up.shape[1], up.shape[2]) - 2 * margin
    full = size + 2 * margin
    before = up[:, :full, :full].copy()
    ndvi = (before[3] - before[2]) / (before[3] + before[2])
    # bare soil: not water nor shade, and reddish (grey roofs and roads of a town are not a clearing)
    soil = (before[3] > 0.12) & (before[2] > 0.05) & (before[2] > 1.25 * before[0])
    low = soil & (ndvi < np.quantile(ndvi[soil], 0.1)) if soil.sum() > 100 else None
    bare = np.median(before[:, low], axis=1) if low is not None else SOIL  # the scene's own bare soil
    forest = ndimage.binary_erosion(ndvi > np.quantile(ndvi, 0.4), iterations=2)
    candidates = _shapes(rng, size, res, mmu, 14)
    geoms = []
    for g in candidates:
        g = shapely.affinity.translate(g, margin, margin)
        inside = _burn([g], full)
        if forest[inside].mean() > 0.85:
            geoms.append(g)
        if len(geoms) == 6:
            break
    loss = _burn(geoms, full)
    after, hidden = _second_date(rng, before, loss, bare, bool(seed % 2))
    shift = (int(rng.integers(-2, 3)), int(rng.integers(-2, 3)))
    return _finish(f"{which}_{seed:03d}", "s2", folder, before, after, geoms, hidden, shift, res, epsg, mmu, size,
                   margin, rng)


def big_pair(folder: Path, size: int, seed: int = 0, tile: int = 2048) -> tuple[Path, Path]:
    """A large 10 m 4-band pair written block by block (bounded memory), for the speed benchmark."""
    rng = np.random.default_rng(seed)
    base, _ = _scene(rng, tile + 16, 1.2, 10.0)
    loss = _burn(_shapes(rng, tile, 10.0, 0.5, 12), tile + 16)
    after, _ = _second_date(rng, base, loss, SOIL, cloud=False)
    transform = from_origin(*_origin(32648, size, size, 10.0), 10.0, 10.0)
    paths = []
    for name, img in (("before", base), ("after", after)):
        path = folder / f"big_{size}_{name}.tif"
        data = np.clip(img[:, :tile, :tile] * 10000, 1, 65535).astype("uint16")
        with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=4, dtype="uint16",
                           crs="EPSG:32648", transform=transform, nodata=0, tiled=True, blockxsize=512,
                           blockysize=512, compress="deflate", BIGTIFF="IF_SAFER") as ds:
            for i, desc in enumerate(["B02", "B03", "B04", "B08"], start=1):
                ds.set_band_description(i, desc)
            for r in range(0, size, tile):
                for c in range(0, size, tile):
                    h, w = min(tile, size - r), min(tile, size - c)
                    ds.write(data[:, :h, :w], window=rasterio.windows.Window(c, r, w, h))
        paths.append(path)
    return paths[0], paths[1]


__all__ = ["Pair", "synthetic_pair", "landsat_pair", "big_pair", "Resampling"]
