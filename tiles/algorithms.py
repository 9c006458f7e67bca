"""Vegetation indices as TiTiler algorithms: ``?algorithm=ndvi|vari|exg``.

Each is a ``titiler.core`` ``BaseAlgorithm`` (so it shows in TiTiler's algorithm metadata and
works on tiles, previews, crops, statistics and mosaics alike) that receives the bands it
needs *in a fixed order*; ``tiles.params`` picks those bands from the item's band roles
(``rasters.bands``), or the caller gives them with ``bidx``. Any other formula is a band-math
``expression`` (rio-tiler's, checked against a whitelist before numexpr sees it).

- **NDVI** = (NIR − Red) / (NIR + Red), bands ``[red, nir]`` (multispectral, Sentinel-2).
- **VARI** = (Green − Red) / (Green + Red − Blue) (Gitelson 2002), bands ``[red, green, blue]``:
  the index for plain RGB drones; pixels whose denominator is ~0 are masked, the rest clipped
  to [−1, 1] (the index is unbounded there and meaningless).
- **ExG** = 2g − r − b on chromatic coordinates (r = R/(R+G+B), …; Woebbecke 1995), bands
  ``[red, green, blue]``: in [−1, 2], robust to the brightness of the flight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy
from rio_tiler.models import ImageData
from titiler.core.algorithm import BaseAlgorithm
from titiler.core.algorithm import algorithms as titiler_algorithms


def _result(img: ImageData, values: numpy.ma.MaskedArray, name: str) -> ImageData:
    values = numpy.ma.masked_invalid(values.astype("float32"))
    return ImageData(values[numpy.newaxis, ...], assets=img.assets, crs=img.crs, bounds=img.bounds,
                     band_descriptions=[name], metadata=img.metadata)


def _bands(img: ImageData, count: int) -> list[numpy.ma.MaskedArray]:
    if img.count != count:
        raise ValueError(f"needs {count} bands, got {img.count}")
    return [img.array[i].astype("float32") for i in range(count)]


class NDVI(BaseAlgorithm):
    """Chỉ số thực vật NDVI / Normalized Difference Vegetation Index."""

    title: str = "NDVI — (NIR − Đỏ) / (NIR + Đỏ) / (NIR − Red) / (NIR + Red)"
    description: str = "Bands in order [red, nir]; output in [-1, 1]."
    input_nbands: int = 2
    output_nbands: int = 1
    output_dtype: str = "float32"
    output_min: Sequence[float] = [-1.0]
    output_max: Sequence[float] = [1.0]

    def __call__(self, img: ImageData) -> ImageData:
        red, nir = _bands(img, 2)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return _result(img, (nir - red) / (nir + red), "ndvi")


class VARI(BaseAlgorithm):
    """Chỉ số VARI cho ảnh RGB / Visible Atmospherically Resistant Index (plain RGB drones)."""

    title: str = "VARI — (Lục − Đỏ) / (Lục + Đỏ − Lam) / (G − R) / (G + R − B)"
    description: str = "Bands in order [red, green, blue]; clipped to [-1, 1]."
    input_nbands: int = 3
    output_nbands: int = 1
    output_dtype: str = "float32"
    output_min: Sequence[float] = [-1.0]
    output_max: Sequence[float] = [1.0]

    def __call__(self, img: ImageData) -> ImageData:
        red, green, blue = _bands(img, 3)
        den = green + red - blue
        den = numpy.ma.masked_where(numpy.abs(den) < 1e-6, den)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return _result(img, numpy.ma.clip((green - red) / den, -1.0, 1.0), "vari")


class ExG(BaseAlgorithm):
    """Chỉ số lục dư ExG / Excess Green index on chromatic coordinates (plain RGB drones)."""

    title: str = "ExG — 2g − r − b (r = R/(R+G+B) …)"
    description: str = "Bands in order [red, green, blue]; output in [-1, 2]."
    input_nbands: int = 3
    output_nbands: int = 1
    output_dtype: str = "float32"
    output_min: Sequence[float] = [-1.0]
    output_max: Sequence[float] = [2.0]

    def __call__(self, img: ImageData) -> ImageData:
        red, green, blue = _bands(img, 3)
        total = numpy.ma.masked_equal(red + green + blue, 0)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return _result(img, (2 * green - red - blue) / total, "exg")


@dataclass(frozen=True)
class Preset:
    """A named index: the band roles it reads (in order) and how to draw it by default."""

    name: str
    roles: tuple[str, ...]
    rescale: tuple[float, float]  # default display range
    colormap: str = "rdylgn"


PRESETS = {
    "ndvi": Preset("ndvi", ("red", "nir"), (-1.0, 1.0)),
    "vari": Preset("vari", ("red", "green", "blue"), (-0.5, 0.5)),
    "exg": Preset("exg", ("red", "green", "blue"), (-0.5, 1.0)),
}

#: TiTiler's algorithms (hillshade, slope, … for DEMs) and ours.
algorithms = titiler_algorithms.register({"ndvi": NDVI, "vari": VARI, "exg": ExG})  # type: ignore[dict-item]
