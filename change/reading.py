"""Step 2 — pixels of one date on the grid, as reflectance, with what cannot be seen masked.

Data conventions handled here, per raster: the GDAL scale/offset of the bands (``ds.scales`` /
``ds.offsets``), Sentinel-2's ``BOA_ADD_OFFSET`` / ``BOA_QUANTIFICATION_VALUE`` (processing baseline
04.00+: reflectance = (DN + offset) / quantification), else the data type (uint8 camera DN / 255, uint16
reflectance × 10 000, float reflectance as is); alpha bands, nodata values and internal masks
(OpenDroneMap footprints) of every band read; black fill without a mask; the Sentinel-2 scene
classification (SCL) when the stack has it, else a spectral cloud and shadow test (satellite reflectances
only: drones fly under the clouds).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from scipy import ndimage

from change.grid import Grid, Source, aligned

#: SCL classes nobody can see the ground through: no data, saturated, cloud shadow, cloud (medium, high),
#: thin cirrus, snow (ESA Sentinel-2 L2A product specification, table "Scene Classification")
SCL_HIDDEN = (0, 1, 3, 8, 9, 10, 11)


@lru_cache(maxsize=64)
def _conversion(location: str, env: tuple, given: float | None) -> tuple[float, float]:
    """``reflectance = DN × gain + offset`` for the raster (see the module docstring)."""
    if given:
        return 1.0 / given, 0.0
    with rasterio.Env(**dict(env)), rasterio.open(location) as ds:
        scales, offsets = ds.scales or (1.0,), ds.offsets or (0.0,)
        if scales[0] not in (0.0, 1.0) or offsets[0] != 0.0:
            return float(scales[0]), float(offsets[0])
        tags = {k.upper(): v for k, v in ds.tags().items()} | {k.upper(): v for k, v in ds.tags(1).items()}
        dtype = ds.dtypes[0]
    add = next((v for k, v in tags.items() if k.startswith("BOA_ADD_OFFSET")), None)
    if add is not None:
        quant = float(tags.get("BOA_QUANTIFICATION_VALUE", tags.get("QUANTIFICATION_VALUE", 10000)))
        return 1.0 / quant, float(add) / quant
    return 1.0 / {"uint8": 255.0, "uint16": 10000.0, "int16": 10000.0}.get(dtype, 1.0), 0.0


def conversion(src: Source) -> tuple[float, float]:
    return _conversion(src.location, src.env, src.scale)


def _sample_windows(ds: rasterio.DatasetReader, band: int, n: int = 4, size: int = 256) -> list[Window]:
    """``n`` × ``n`` windows of at most ``size``² spread over the raster, each starting on a block."""
    bh, bw = ds.block_shapes[band - 1]
    rows = sorted({int((i + 0.5) * ds.height / n) // bh * bh for i in range(n)})
    cols = sorted({int((i + 0.5) * ds.width / n) // bw * bw for i in range(n)})
    return [Window(c, r, min(size, ds.width - c), min(size, ds.height - r)) for r in rows for c in cols]


def is_reflectance(src: Source) -> bool:
    """Are the values satellite reflectances (so that absolute cloud tests apply)? 16-bit and float
    satellite stacks are; 8-bit ones (old DN products) when the median blue of an overview, or of 16 windows
    spread over a large raster without overviews, is below 0.3 (never a decimated read of a large raster:
    GDAL would decode every block of it)."""
    if "blue" not in src.roles or "scl" in src.roles:
        return False
    band = src.roles["blue"]
    gain, offset = conversion(src)
    with rasterio.Env(**dict(src.env)), rasterio.open(src.location) as ds:
        if abs(ds.transform.a) < 5.0 and not ds.crs.is_geographic:  # a drone: under the clouds
            return False
        if ds.dtypes[0] != "uint8":  # 16-bit or float satellite data: reflectance (a cloudy date is, too)
            return True
        if ds.overviews(band) or ds.width * ds.height <= 2048 * 2048:
            f = max(1, max(ds.width, ds.height) // 256)
            values = ds.read(band, out_shape=(max(1, ds.height // f), max(1, ds.width // f)), masked=True).compressed()
        else:
            values = np.concatenate([ds.read(band, window=w, masked=True).compressed()
                                     for w in _sample_windows(ds, band)])
    values = values * gain + offset
    return bool(values.size) and float(np.median(values)) < 0.3


def _shifted(grid: Grid, shift: tuple[float, float]) -> Affine:
    return Affine.translation(shift[0], shift[1]) @ grid.transform


def read(src: Source, grid: Grid, win: Window, names: list[str], dilate_px: int = 3,
         ) -> tuple[np.ndarray, np.ndarray]:
    """Reflectance of the ``names`` bands of ``src`` over ``win`` (bands × rows × cols) and validity."""
    idx = [src.roles[b] for b in names]
    with rasterio.Env(**dict(src.env)), rasterio.open(src.location) as ds:
        offset = aligned(ds, grid) if src.shift == (0.0, 0.0) else None
        if offset is not None:  # already on the grid: a plain windowed read, no warping
            own = Window(win.col_off + offset[0], win.row_off + offset[1], win.width, win.height)
            outside = own.col_off < 0 or own.row_off < 0 or own.col_off + own.width > ds.width \
                or own.row_off + own.height > ds.height  # boundless reads go through a VRT: only when needed
            data = ds.read(idx, window=own, out_dtype="float32", boundless=outside, fill_value=0)
            valid = ds.read_masks(idx, window=own, boundless=outside).min(axis=0) > 0
            scl = ds.read(src.roles["scl"], window=own, boundless=outside, fill_value=0) \
                if "scl" in src.roles else None
        else:
            native = min(abs(ds.transform.a), abs(ds.transform.e))
            down = grid.res > native * 1.5 and not ds.crs.is_geographic
            vrt_args = dict(crs=grid.crs, transform=_shifted(grid, src.shift), width=grid.width, height=grid.height)
            with WarpedVRT(ds, resampling=Resampling.average if down else Resampling.bilinear, **vrt_args) as vrt:
                data = vrt.read(idx, window=win, out_dtype="float32")
                valid = vrt.read_masks(idx, window=win).min(axis=0) > 0
            scl = None
            if "scl" in src.roles:  # classes: nearest, never averaged
                with WarpedVRT(ds, resampling=Resampling.nearest, **vrt_args) as vrt:
                    scl = vrt.read(src.roles["scl"], window=win)
    gain, off = conversion(src)
    data = data * np.float32(gain) + np.float32(off)
    valid &= data.sum(axis=0) > 3 / 255 * len(names)  # black fill without a mask
    hidden = np.zeros_like(valid)
    if scl is not None:
        hidden |= np.isin(scl, SCL_HIDDEN)
    elif src.clouds and "blue" in names and "red" in names:
        blue, red = data[names.index("blue")], data[names.index("red")]
        # clouds: bright and white (blue about as bright as red; bare soil is much redder); deep shadows
        hidden |= (blue > 0.18) & (blue > 0.85 * red)
        if "nir" in names:
            hidden |= data[names.index("nir")] < 0.02
    if hidden.any():
        valid &= ~ndimage.binary_dilation(hidden, iterations=dilate_px)
    return data, valid


def halo_px(grid: Grid, metres: float, pixels: int) -> int:
    return int(math.ceil(metres / grid.res)) + pixels
