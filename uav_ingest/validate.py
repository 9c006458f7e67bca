"""Check a source raster before any heavy work: format, size, georeference, CRS, data type, bands.

Every refusal is a ``RasterRejected`` with a code and a message in Vietnamese and English.
The checks run cheapest first, so an absurd or broken file is refused without reading pixels.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.warp import transform_bounds

from rasters.bands import band_common_names
from rasters.errors import RasterRejected

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
#: leading bytes of files that arrive by mistake, to name them in the error
OTHER_FORMATS = [
    (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"), (b"%PDF", "PDF"), (b"PK\x03\x04", "ZIP"),
    (b"\x1f\x8b", "gzip"), (b"SQLite format 3", "SQLite/GeoPackage"), (b"{", "JSON"), (b"<", "XML/HTML"),
]
PLAIN_IMAGES = {"JPEG", "PNG", "GIF", "BMP", "JPEG 2000"}
SUPPORTED_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"}
INTEGER_DTYPES = {"uint8", "int8", "uint16", "int16", "uint32", "int32"}
#: block offsets checked for truncation (a few thousand metadata reads at most)
_MAX_BLOCKS_CHECKED = 20_000


@dataclass(frozen=True)
class SourceInfo:
    """What ingest needs to know about a valid source raster."""

    path: Path
    size_bytes: int
    width: int
    height: int
    count: int
    dtype: str
    crs: CRS
    transform: Affine
    nodata: float | None
    #: 1-based index of the alpha band, if any
    alpha: int | None
    descriptions: list[str | None]
    #: eo common names of the data bands (alpha excluded)
    common_names: list[str | None]
    gsd_m: float
    bounds_4326: tuple[float, float, float, float]

    @property
    def epsg(self) -> int | None:
        return self.crs.to_epsg()

    @property
    def data_bands(self) -> list[int]:
        return [b for b in range(1, self.count + 1) if b != self.alpha]


def sniff(path: Path, max_bytes: int, name: str | None = None) -> None:
    """Refuse missing, empty, oversize and non-TIFF files from their first bytes."""
    name = name or path.name
    if not path.is_file():
        raise RasterRejected("not_an_image", f"Không có tệp / no such file: {name}")
    size = path.stat().st_size
    if size == 0:
        raise RasterRejected("empty_file", f"Tệp rỗng (0 byte) / the file is empty (0 bytes): {name}")
    if size > max_bytes:
        raise RasterRejected("too_large", f"Tệp {size:,} byte vượt giới hạn {max_bytes:,} byte / "
                             f"the file ({size:,} bytes) exceeds the limit of {max_bytes:,} bytes "
                             "(SDI_MAX_RASTER_BYTES)")
    with path.open("rb") as fh:
        head = fh.read(16)
    if head[:4] in TIFF_MAGIC:
        return
    kind = next((name for magic, name in OTHER_FORMATS if head.startswith(magic)), None)
    if kind in PLAIN_IMAGES:
        raise RasterRejected(
            "no_georeference",
            f"Ảnh {kind} thường, không có tham chiếu địa lý / a plain {kind} image without georeference "
            f"({name}): xuất ảnh trực giao dạng GeoTIFF / export the orthomosaic as GeoTIFF")
    raise RasterRejected("not_an_image", f"Tệp không phải ảnh GeoTIFF / not an image: {name} "
                         f"({kind or 'nội dung không nhận ra / unrecognised content'})")


def inspect_source(path: Path, *, kind: str, default_bands: list[str], max_pixels: int,
                   max_bytes: int, name: str | None = None) -> SourceInfo:
    """Open ``path`` and check it for a collection of ``kind``; nothing is read but metadata."""
    name = name or path.name
    sniff(path, max_bytes, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                return _inspect(ds, path, name, kind, default_bands, max_pixels)
    except RasterioIOError as exc:
        raise RasterRejected("corrupt", f"Tệp TIFF hỏng hoặc bị cắt cụt / corrupt or truncated TIFF "
                             f"({name}): {_gdal_message(exc)}") from exc


def _inspect(ds: rasterio.DatasetReader, path: Path, name: str, kind: str, default_bands: list[str],
             max_pixels: int) -> SourceInfo:
    if ds.driver != "GTiff":
        raise RasterRejected("not_geotiff", f"Không phải GeoTIFF / not a GeoTIFF ({name}, {ds.driver})")
    pixels = ds.width * ds.height
    if pixels > max_pixels:
        raise RasterRejected("too_large", f"Kích thước {ds.width:,}×{ds.height:,} px vượt giới hạn "
                             f"{max_pixels:,} px / {ds.width:,}×{ds.height:,} pixels exceed the limit of "
                             f"{max_pixels:,} (SDI_MAX_RASTER_PIXELS)")
    dtype = ds.dtypes[0]
    if dtype not in SUPPORTED_DTYPES or len(set(ds.dtypes)) > 1:
        raise RasterRejected("unsupported_dtype", f"Kiểu dữ liệu {', '.join(sorted(set(ds.dtypes)))} không hỗ trợ / "
                             f"unsupported data type; supported: {', '.join(sorted(SUPPORTED_DTYPES))}")
    if ds.crs is None and ds.gcps[0]:
        raise RasterRejected("no_georeference", f"Ảnh chỉ có điểm khống chế (GCP), chưa nắn / only ground control "
                             f"points, not rectified ({name}): nắn ảnh trước / warp it first (gdalwarp)")
    georeferenced = ds.transform != Affine.identity()
    if ds.crs is None and not georeferenced:
        raise RasterRejected("no_georeference", f"TIFF không có tham chiếu địa lý (không có hệ tọa độ, không có "
                             f"phép biến đổi) / a TIFF without georeference (no CRS, no geotransform): {name}")
    if ds.crs is None:
        raise RasterRejected("no_crs", f"Thiếu hệ tọa độ / the GeoTIFF has no CRS ({name}): gán hệ tọa độ, "
                             "ví dụ / assign one, e.g. gdal_edit -a_srs EPSG:9215 (VN-2000 / TM-3 107°15′)")
    if not georeferenced:
        raise RasterRejected("no_georeference", f"Có hệ tọa độ nhưng không có phép biến đổi / a CRS but no "
                             f"geotransform ({name})")
    _check_truncation(ds, path, name)
    alpha = next((i + 1 for i, c in enumerate(ds.colorinterp) if c == ColorInterp.alpha), None)
    descriptions = list(ds.descriptions)
    data_desc = [d for i, d in enumerate(descriptions) if i + 1 != alpha]
    names = band_common_names(data_desc, default_bands)
    _check_bands(kind, dtype, ds.count, alpha, names, name)
    try:
        bounds = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
    except Exception as exc:
        raise RasterRejected("no_crs", f"Hệ tọa độ không dùng được / unusable CRS ({name}): {exc}") from exc
    if not all(math.isfinite(v) for v in bounds):
        raise RasterRejected("no_crs", f"Hệ tọa độ không dùng được / unusable CRS ({name}): bounds not finite")
    return SourceInfo(path=path, size_bytes=path.stat().st_size, width=ds.width, height=ds.height,
                      count=ds.count, dtype=dtype, crs=ds.crs, transform=ds.transform, nodata=ds.nodata,
                      alpha=alpha, descriptions=descriptions, common_names=names,
                      gsd_m=_gsd_m(ds), bounds_4326=tuple(bounds))


def _check_bands(kind: str, dtype: str, count: int, alpha: int | None, names: list[str | None],
                 name: str) -> None:
    data = count - (1 if alpha else 0)
    problem = None
    if kind == "rgb":
        if dtype != "uint8":
            problem = f"ảnh RGB phải 8-bit / an RGB orthomosaic must be 8-bit (uint8), got {dtype}"
        elif data != 3:
            problem = (f"ảnh RGB cần 3 kênh (+ alpha) / an RGB orthomosaic needs 3 bands (+ alpha), got {count}"
                       + (" (kênh 4 không phải alpha / band 4 is not marked alpha)" if count == 4 else ""))
    elif kind == "multispectral":
        if data < 4:
            problem = f"ảnh đa phổ cần ≥ 4 kênh / multispectral imagery needs at least 4 bands, got {data}"
        elif "nir" not in names and "nir08" not in names:
            problem = ("không xác định được kênh cận hồng ngoại (NIR) / no near-infrared band found: "
                       "name the bands (descriptions such as 'nir', 'B08') or use the collection's band order")
    elif kind == "sentinel2":
        if data < 3:
            problem = f"cảnh Sentinel-2 cần ≥ 3 kênh / a Sentinel-2 stack needs at least 3 bands, got {data}"
    elif kind in ("dem", "categorical"):
        if data != 1:
            problem = f"cần đúng 1 kênh / exactly 1 band expected for {kind}, got {data}"
        elif kind == "categorical" and dtype not in INTEGER_DTYPES:
            problem = f"ảnh phân loại phải là số nguyên / a classification must be integer, got {dtype}"
    if problem:
        raise RasterRejected("bands", f"{name}: {problem}")


def _check_truncation(ds: rasterio.DatasetReader, path: Path, name: str) -> None:
    """Every block (strip or tile) of the first and last band must lie inside the file.

    By hand because GDAL opens a truncated TIFF whose directory survived and fails only when it
    reads a missing block, i.e. deep into the conversion; the offsets tell at once."""
    size = path.stat().st_size
    rows = math.ceil(ds.height / ds.block_shapes[0][0])
    cols = math.ceil(ds.width / ds.block_shapes[0][1])
    if rows * cols > _MAX_BLOCKS_CHECKED:
        rows_to_check = [rows - 1]
    else:
        rows_to_check = list(range(rows))
    for band in {1, ds.count}:
        for r in rows_to_check:
            for c in range(cols):
                offset = ds.get_tag_item(f"BLOCK_OFFSET_{c}_{r}", "TIFF", bidx=band)
                length = ds.get_tag_item(f"BLOCK_SIZE_{c}_{r}", "TIFF", bidx=band)
                if offset and length and int(offset) + int(length) > size:
                    raise RasterRejected(
                        "corrupt", f"Tệp TIFF bị cắt cụt / truncated TIFF ({name}): block {c},{r} of band "
                        f"{band} ends at byte {int(offset) + int(length):,}, the file has {size:,}")


def _gsd_m(ds: rasterio.DatasetReader) -> float:
    """Ground sample distance in metres (mean of the x and y pixel sizes)."""
    xres = math.hypot(ds.transform.a, ds.transform.d)
    yres = math.hypot(ds.transform.b, ds.transform.e)
    if ds.crs.is_geographic:
        lat = (ds.bounds.bottom + ds.bounds.top) / 2
        return ((xres * math.cos(math.radians(lat)) + yres) / 2) * 111_320.0
    factor = ds.crs.linear_units_factor[1] if ds.crs.linear_units_factor else 1.0
    return (xres + yres) / 2 * factor


def _gdal_message(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]
