"""Source raster → Cloud-Optimized GeoTIFF with rio-cogeo, then validated.

Profiles by collection kind:

- ``rgb``: JPEG (YCbCr, quality 85) with an **internal mask** made from the alpha band or the
  nodata value; lossy codecs smear a nodata value into its neighbours (dirty borders), a mask
  does not.
- ``multispectral``, ``sentinel2``, ``dem``: ZSTD (in rasterio's GDAL) with the predictor
  for the data type, nodata kept (lossless, so it stays exact); an alpha band becomes a mask.
- ``categorical``: ZSTD, no predictor, **nearest** resampling for overviews (no false classes).

Overviews use ``average`` for continuous data. ``web_optimized`` re-grids to WebMercatorQuad.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO, cast

import morecantile
from rasterio.errors import RasterioError
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles

from rasters.errors import RasterRejected
from uav_ingest.validate import SourceInfo

BLOCK_SIZE = 512
JPEG_QUALITY = 85
GDAL_CONFIG = {"GDAL_NUM_THREADS": "ALL_CPUS", "GDAL_TIFF_INTERNAL_MASK": True,
               "GDAL_TIFF_OVR_BLOCKSIZE": str(BLOCK_SIZE)}


@dataclass(frozen=True)
class CogPlan:
    """How a source becomes a COG."""

    profile: dict
    indexes: list[int]
    add_mask: bool
    overview_resampling: Literal["nearest", "average"]
    warp_resampling: Literal["nearest", "bilinear"]


def plan(info: SourceInfo, kind: str) -> CogPlan:
    """The COG profile and options for a source of collection ``kind``."""
    if kind == "rgb":
        profile = cog_profiles.get("jpeg")
        profile.update(blockxsize=BLOCK_SIZE, blockysize=BLOCK_SIZE, jpeg_quality=JPEG_QUALITY)
        return CogPlan(profile, info.data_bands, add_mask=True, overview_resampling="average",
                       warp_resampling="bilinear")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "non-standard compression schema": rasterio's GDAL reads ZSTD
        profile = cog_profiles.get("zstd")
    profile.update(blockxsize=BLOCK_SIZE, blockysize=BLOCK_SIZE)
    categorical = kind == "categorical"
    if not categorical:
        profile["predictor"] = 3 if info.dtype.startswith("float") else 2
    return CogPlan(profile, info.data_bands, add_mask=info.alpha is not None,
                   overview_resampling="nearest" if categorical else "average",
                   warp_resampling="nearest" if categorical else "bilinear")


class _ClickPercent(io.TextIOBase):
    """rio-cogeo draws its progress with ``click.progressbar`` on a text stream; this stream
    passes the percentage on (rio-cogeo has no progress callback). It claims to be a terminal,
    since click draws nothing but the label on other streams."""

    def __init__(self, callback: Callable[[int], None]) -> None:
        self.callback = callback

    def isatty(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        found = re.findall(r"(\d{1,3})%", text)
        if found:
            self.callback(min(100, int(found[-1])))
        return len(text)


def to_cog(info: SourceInfo, kind: str, dst: Path, *, web_optimized: bool = False,
           progress: Callable[[int], None] | None = None, name: str | None = None) -> CogPlan:
    """Write the COG of ``info`` to ``dst`` and validate it; returns the plan used."""
    how = plan(info, kind)
    out = _ClickPercent(progress) if progress else None
    try:
        # rio-cogeo's warnings ("nodata will be translated to a mask") and its click messages on stderr
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            cog_translate(
                info.path, dst, how.profile, indexes=how.indexes, add_mask=how.add_mask,
                overview_resampling=how.overview_resampling, resampling=how.warp_resampling,
                tms=morecantile.tms.get("WebMercatorQuad") if web_optimized else None,
                config=GDAL_CONFIG, quiet=out is None, progress_out=cast(TextIO, out), forward_band_tags=True,
                additional_cog_metadata={"SDI_KIND": kind},
            )
    except RasterioError as exc:
        dst.unlink(missing_ok=True)
        raise RasterRejected("corrupt", f"Không đọc được điểm ảnh, tệp hỏng hoặc bị cắt cụt / cannot read the "
                             f"pixels, the file is corrupt or truncated ({name or info.path.name}): "
                             f"{_root_message(exc)}") from exc
    valid, errors, _ = cog_validate(dst, quiet=True)
    if not valid:
        dst.unlink(missing_ok=True)
        raise RasterRejected("cog_invalid", f"COG không hợp lệ / the COG did not validate: {'; '.join(errors)}")
    return how


def _root_message(exc: BaseException) -> str:
    """GDAL's own words: rasterio wraps them ("Read failed. See previous exception")."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
