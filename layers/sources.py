"""Open vector files (GeoJSON, GeoPackage, zipped Shapefile, CSV with lon/lat, KML) as
streams of batches, with the CRS settled before any feature is read.

Reading is GDAL's, through pyogrio's Arrow interface, so a file of any size is read a
batch at a time and never held in memory whole.
"""

from __future__ import annotations

import datetime as dt
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyogrio
import shapely
from attrs import define, field
from pyproj import CRS
from pyproj.exceptions import CRSError

from sdi.errors import FileTooLargeError, InvalidInputError, UnsupportedFormatError

logger = logging.getLogger(__name__)

#: File suffix → GDAL driver. Anything else is refused before GDAL sees it.
FORMATS: dict[str, str] = {
    ".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".zip": "ESRI Shapefile",
    ".shp": "ESRI Shapefile", ".csv": "CSV", ".kml": "KML", ".kmz": "KML",
    ".fgb": "FlatGeobuf",
}
#: Formats whose CRS is fixed by their specification (RFC 7946, KML 2.2) or absent (CSV).
IMPLICIT_CRS = {"GeoJSON", "KML", "CSV"}
LON_NAMES = "lon,long,lng,longitude,x,kinh_do,kinhdo"
LAT_NAMES = "lat,latitude,y,vi_do,vido"
#: The CRSs agencies deliver in (MISSION.md); used to suggest a fix for a wrong CRS.
PROVINCE_CRS = (9215, 3405, 4756, 4326)


@define(kw_only=True)
class Batch:
    """A slice of a source: attribute columns, geometries, and the rows' 1-based numbers."""

    frame: pd.DataFrame
    geometry: shapely.Geometry | None | object  # numpy array of shapely geometries, or None
    first_row: int


@define(kw_only=True)
class VectorSource:
    """An opened file: what it is and how to stream it."""

    path: Path
    gdal_path: str
    driver: str
    layer: str | None
    crs: CRS | None
    feature_count: int
    columns: list[str]
    modified: dt.datetime
    size_bytes: int
    open_options: dict[str, str] = field(factory=dict)

    def batches(self, batch_size: int) -> Iterator[Batch]:
        """Stream the features, ``batch_size`` at a time."""
        row = 1
        try:
            with pyogrio.open_arrow(
                self.gdal_path, layer=self.layer, batch_size=batch_size, use_pyarrow=True,
                **self.open_options,
            ) as (meta, reader):
                geom_col = meta.get("geometry_name") or "wkb_geometry"
                for record_batch in reader:
                    frame = record_batch.to_pandas()
                    geoms = None
                    if geom_col in frame.columns:
                        geoms = shapely.from_wkb(frame.pop(geom_col).to_numpy(), on_invalid="ignore")
                    yield Batch(frame=frame, geometry=geoms, first_row=row)
                    row += len(frame)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.FieldError, OSError) as exc:
            raise InvalidInputError(
                f"Tệp bị hỏng hoặc cắt cụt / the file is corrupt or truncated near feature "
                f"{row}: {_gdal_message(exc)}"
            ) from exc


def open_source(
    path: Path, *, crs: str | int | None = None, source_layer: str | None = None,
    max_bytes: int,
) -> VectorSource:
    """Check a file and open it for streaming.

    Args:
        path: the file.
        crs: the CRS to assume when the file has none (``--crs``), e.g. ``EPSG:9215``.
        source_layer: which layer of a multi-layer file (GeoPackage, zip) to read.
        max_bytes: refuse larger files before reading them.

    Returns:
        A ``VectorSource`` whose ``crs`` is settled.

    Raises:
        InvalidInputError: missing, empty, corrupt file; missing or conflicting CRS.
        UnsupportedFormatError: not one of ``FORMATS``.
        FileTooLargeError: over ``max_bytes``.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"Không tìm thấy tệp / no such file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise InvalidInputError(f"Tệp rỗng / the file is empty (0 bytes): {path.name}")
    if size > max_bytes:
        raise FileTooLargeError(
            f"Tệp quá lớn / {path.name} is {size / 1024**3:.2f} GiB, over the limit of "
            f"{max_bytes / 1024**3:.2f} GiB (SDI_MAX_LOAD_BYTES)"
        )
    driver = FORMATS.get(path.suffix.lower())
    if driver is None:
        raise UnsupportedFormatError(
            f"Định dạng không hỗ trợ / unsupported format '{path.suffix or path.name}'. "
            "Use GeoJSON, GeoPackage, zipped Shapefile, CSV with lon/lat columns, KML/KMZ or FlatGeobuf."
        )
    gdal_path, open_options = _gdal_path(path, driver, max_bytes)
    layer = _pick_layer(gdal_path, driver, source_layer)
    try:
        info = pyogrio.read_info(gdal_path, layer=layer, **open_options)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InvalidInputError(
            f"Không đọc được tệp / cannot read {path.name} as {driver} (corrupt, truncated or "
            f"not this format): {_gdal_message(exc)}"
        ) from exc
    if driver == "CSV" and info.get("geometry_type") is None:
        raise InvalidInputError(
            f"{path.name}: không có cột tọa độ / no coordinate columns; name them one of "
            f"{LON_NAMES} and {LAT_NAMES}"
        )
    return VectorSource(
        path=path, gdal_path=gdal_path, driver=driver, layer=layer,
        crs=_settle_crs(path.name, driver, info.get("crs"), crs),
        feature_count=int(info.get("features", -1)), columns=list(info["fields"]),
        modified=dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC),
        size_bytes=size, open_options=open_options,
    )


#: A zip whose content is this many times its size is refused: a zip bomb, not geodata (text-heavy
#: GeoJSON and DBF files compress 5–20×; 100× leaves room and stops 1000× bombs).
MAX_ZIP_RATIO = 100


def _zip_members(path: Path, max_bytes: int) -> list[str]:
    """The members of a zip, after refusing what no honest archive holds: names that climb out of
    it (``../x.shp``, absolute paths), more content than the load limit, or a zip-bomb ratio. GDAL
    reads the members in place (``/vsizip/``), nothing is extracted; the checks are for the reader's
    memory and disk, and for the names that reports repeat."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInputError(f"{path.name}: tệp zip hỏng / not a valid zip archive") from exc
    for info in infos:
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/") or ":" in name.split("/")[0]:
            raise InvalidInputError(f"{path.name}: tên tệp không an toàn trong zip / unsafe name in the zip "
                                    f"{info.filename[:80]!r} (absolute or climbing out with ..)")
    content = sum(i.file_size for i in infos)
    if content > max_bytes:
        raise FileTooLargeError(f"{path.name}: nội dung zip quá lớn / the zip holds {content:,} bytes, over the "
                                f"limit of {max_bytes:,} (SDI_MAX_LOAD_BYTES)")
    ratio = content // max(path.stat().st_size, 1)
    if ratio > MAX_ZIP_RATIO and content > 10 * 1024**2:
        raise InvalidInputError(f"{path.name}: tỉ lệ nén bất thường / the zip expands {ratio:,}× (over "
                                f"{MAX_ZIP_RATIO}×): a zip bomb, not geodata")
    return [i.filename for i in infos]


def _gdal_path(path: Path, driver: str, max_bytes: int) -> tuple[str, dict[str, str]]:
    if path.suffix.lower() == ".kmz":
        kml = [n for n in _zip_members(path, max_bytes) if n.lower().endswith(".kml")]
        if not kml:
            raise InvalidInputError(f"{path.name}: không có tệp .kml / the KMZ holds no .kml file")
        return f"/vsizip/{path.resolve()}/{kml[0]}", {}
    if path.suffix.lower() == ".zip":
        names = [n for n in _zip_members(path, max_bytes) if n.lower().endswith(".shp")]
        if not names:
            raise InvalidInputError(f"{path.name}: không có tệp .shp / the zip holds no .shp file")
        if len(names) > 1:
            raise InvalidInputError(
                f"{path.name}: có nhiều shapefile / the zip holds several shapefiles "
                f"({', '.join(names)}); zip one per load"
            )
        return f"/vsizip/{path.resolve()}/{names[0]}", {}
    if driver == "CSV":
        return str(path), {
            "X_POSSIBLE_NAMES": LON_NAMES, "Y_POSSIBLE_NAMES": LAT_NAMES,
            "KEEP_GEOM_COLUMNS": "NO", "AUTODETECT_TYPE": "YES",
        }
    return str(path), {}


def _pick_layer(gdal_path: str, driver: str, wanted: str | None) -> str | None:
    try:
        names = [str(n) for n in pyogrio.list_layers(gdal_path)[:, 0]]
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise InvalidInputError(
            f"Không đọc được tệp / cannot read the file as {driver} (corrupt, truncated or "
            f"not this format): {_gdal_message(exc)}"
        ) from exc
    if wanted is not None:
        if wanted not in names:
            raise InvalidInputError(f"no layer '{wanted}' in the file; it has: {', '.join(names)}")
        return wanted
    if len(names) > 1 and driver != "KML":
        raise InvalidInputError(
            f"Tệp có nhiều lớp / the file has several layers ({', '.join(names)}); "
            "choose one with --source-layer"
        )
    return names[0] if names else None


def _settle_crs(name: str, driver: str, declared: str | None, given: str | int | None) -> CRS | None:
    given_crs = None
    if given is not None:
        try:
            given_crs = CRS.from_user_input(given)
        except CRSError as exc:
            raise InvalidInputError(f"--crs {given}: không rõ hệ tọa độ / unknown CRS") from exc
    declared_crs = CRS.from_user_input(declared) if declared else None
    if given_crs is not None:
        if declared_crs is not None and driver not in IMPLICIT_CRS and not declared_crs.equals(
            given_crs, ignore_axis_order=True
        ):
            raise InvalidInputError(
                f"{name}: tệp khai báo {_crs_label(declared_crs)} nhưng --crs là "
                f"{_crs_label(given_crs)} / the file declares {_crs_label(declared_crs)} "
                f"but --crs says {_crs_label(given_crs)}; drop --crs or fix the file"
            )
        return given_crs
    if declared_crs is None and driver == "CSV":
        return CRS.from_epsg(4326)  # lon/lat columns without --crs: WGS 84 degrees
    if declared_crs is None:
        raise InvalidInputError(
            f"{name}: thiếu hệ tọa độ / the file has no CRS (e.g. a Shapefile without .prj); "
            "give it with --crs, e.g. --crs EPSG:9215 (VN-2000 / TM-3 107°15′)"
        )
    return declared_crs


def _crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def _gdal_message(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
