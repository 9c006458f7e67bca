"""Load vector data into a catalogued layer: all or nothing, upserting by natural key.

Every load validates (see :mod:`layers.quality`), stages with COPY, and either commits
everything or leaves the database exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import psycopg
import shapely
from pyproj import CRS
from sqlalchemy import Connection, Engine, Integer, insert

from layers.catalog import FREQUENCY_DAYS, Layer, refresh_stats
from layers.province import province_area, suggest_crs
from layers.quality import ValidationReport, check_inside, fix_geometries
from layers.sources import Batch, open_source
from layers.writer import ROW, Stager
from sdi import metrics
from sdi.crs import STORAGE, looks_geographic, to_storage
from sdi.database import translate_db_errors
from sdi.errors import ValidationFailedError
from sdi.models import LoadRecord
from sdi.settings import Settings

logger = logging.getLogger(__name__)

IfExists = Literal["fail", "replace", "upsert"]
Progress = Callable[[int], None]
#: more changes that commit or roll back with the load (called after the rows are written)
AlsoInTransaction = Callable[[Connection], None]
#: Stop reading a hopeless file after this many rejected features.
_MAX_REJECTED = 10_000


def load_vector(
    path: Path, layer: Layer, *, engine: Engine, settings: Settings, crs: str | None = None,
    source_layer: str | None = None, if_exists: IfExists = "upsert", dry_run: bool = False,
    progress: Progress | None = None,
) -> ValidationReport:
    """Validate a file and load it into ``layer`` in one transaction.

    Args:
        path: GeoJSON, GeoPackage, zipped Shapefile, CSV (lon/lat) or KML file.
        layer: the target layer from the catalogue.
        engine: the database.
        settings: limits (file size, batch size, province tolerance).
        crs: CRS to assume when the file declares none (``--crs``).
        source_layer: layer inside a multi-layer file.
        if_exists: ``upsert`` by natural key, ``replace`` the layer's rows, or ``fail``
            when any key already exists.
        dry_run: validate only (``sdi layers validate``); nothing is written.
        progress: called with the number of features read after each batch.

    Returns:
        The validation report of a committed load (or of the dry run).

    Raises:
        InvalidInputError: the file cannot be read as declared (see ``open_source``).
        ValidationFailedError: some feature failed a check; ``.report`` lists them all.
    """
    source = open_source(path, crs=crs, source_layer=source_layer, max_bytes=settings.max_load_bytes)
    report = ValidationReport(layer=layer.id, source=path.name, driver=source.driver,
                              source_crs=source.crs.to_string() if source.crs else None,
                              mode=if_exists, dry_run=dry_run)
    _check_current(source.modified, layer, report)
    return load_batches(
        source.batches(settings.load_batch_size), layer, engine=engine, settings=settings,
        source_crs=source.crs, report=report, if_exists=if_exists, dry_run=dry_run,
        progress=progress, checksum=_sha256(path),
    )


def load_frame(frame: pd.DataFrame, layer: Layer, *, engine: Engine, settings: Settings,
               source: str, if_exists: IfExists = "upsert", checksum: str | None = None,
               also: AlsoInTransaction | None = None) -> ValidationReport:
    """Load an in-memory (Geo)DataFrame through the same checks as a file; ``also(conn)`` runs in the
    load's transaction once the rows are written (e.g. removing rows the new ones replace)."""
    geoms = None
    crs = STORAGE
    if "geometry" in frame.columns:
        geoms = np.asarray(frame.geometry.values, dtype=object)
        crs = getattr(frame, "crs", None) or STORAGE
        frame = pd.DataFrame(frame.drop(columns="geometry"))
    report = ValidationReport(layer=layer.id, source=source, driver="memory",
                              source_crs=CRS(crs).to_string(), mode=if_exists)
    batch = Batch(frame=frame.reset_index(drop=True), geometry=geoms, first_row=1)
    return load_batches([batch], layer, engine=engine, settings=settings, source_crs=CRS(crs),
                        report=report, if_exists=if_exists, checksum=checksum, also=also)


@metrics.timed_job("load")
def load_batches(
    batches: Iterable[Batch], layer: Layer, *, engine: Engine, settings: Settings,
    source_crs: CRS | None, report: ValidationReport, if_exists: IfExists = "upsert",
    dry_run: bool = False, progress: Progress | None = None, checksum: str | None = None,
    also: AlsoInTransaction | None = None, before: AlsoInTransaction | None = None,
) -> ValidationReport:
    """The load pipeline shared by files and in-memory frames (see ``load_vector``); ``before(conn)``
    runs first in the load's transaction (e.g. creating the table of a layer being published)."""
    with translate_db_errors(), engine.connect() as conn:
        tx = conn.begin()
        try:
            if before is not None:
                before(conn)
            _stage_and_write(conn, batches, layer, settings, source_crs, report,
                             if_exists, dry_run, progress, checksum, also)
        except BaseException:
            tx.rollback()
            raise
        if dry_run or not report.ok:
            tx.rollback()
        else:
            tx.commit()
            report.committed = True
    report.finished_at = dt.datetime.now(dt.UTC)
    if not report.ok:
        raise _refused(layer, report)
    logger.info("%s%s", "validated (dry run) " if dry_run else "loaded ", report.summary())
    return report


def _stage_and_write(conn: Connection, batches: Iterable[Batch], layer: Layer, settings: Settings,
                     source_crs: CRS | None, report: ValidationReport, if_exists: IfExists,
                     dry_run: bool, progress: Progress | None, checksum: str | None,
                     also: AlsoInTransaction | None = None) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None  # a live psycopg connection
    area = province_area(conn, settings) if layer.has_geometry else None
    mapping: dict[str, str] | None = None
    stager: Stager | None = None
    for batch in batches:
        if mapping is None:
            mapping = _column_mapping(list(batch.frame.columns), layer, report)
            # Only the columns the source has: an upsert keeps the others, inserts get defaults.
            columns = list(mapping.values()) + (["geom"] if layer.has_geometry else [])
            stager = Stager(raw, layer.sa_table, columns, layer.natural_key)
        assert stager is not None
        frame = _prepare(batch, layer, mapping, source_crs, area, report)
        report.counts.read += len(batch.frame)
        if report.ok and not _copy(stager, frame, report):
            break
        if progress:
            progress(len(batch.frame))
        if report.counts.rejected > _MAX_REJECTED:
            report.add("correct", "warning", "stopped_early",
                       f"Dừng đọc sau {_MAX_REJECTED} lỗi / stopped after {_MAX_REJECTED} rejected features")
            break
    if stager is None or report.counts.read == 0:
        report.add("complete", "error", "no_features", "Tệp không có đối tượng nào / the file has no features")
    if not report.ok or stager is None:
        return
    _check_keys(stager, layer, report, if_exists)
    if not report.ok or dry_run:
        return
    try:
        stager.upsert(replace=if_exists == "replace")
    except psycopg.errors.IntegrityError as exc:
        report.add("correct", "error", "constraint_violated",
                   f"Vi phạm ràng buộc / a value breaks a rule of the layer: {_pg_message(exc)}",
                   count=1)
        return
    if also is not None:
        also(conn)
    refresh_stats(conn, layer)
    conn.execute(insert(LoadRecord).values(
        layer_id=layer.id, source=report.source, checksum=checksum,
        inserted=report.counts.inserted, updated=report.counts.updated,
        report=report.model_dump(mode="json"),
    ))


def _refused(layer: Layer, report: ValidationReport) -> ValidationFailedError:
    return ValidationFailedError(
        f"Không nạp được lớp {layer.id} / load refused, nothing was written: {report.summary()}", report)


def _copy(stager: Stager, frame: pd.DataFrame, report: ValidationReport) -> bool:
    """COPY a batch; a value PostgreSQL cannot parse becomes a report error."""
    try:
        stager.copy(frame)
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
        report.add("clean", "error", "bad_value",
                   f"Giá trị sai kiểu / a value has the wrong type: {_pg_message(exc)}", count=1)
        return False
    return True


def _pg_message(exc: psycopg.Error) -> str:
    diag = exc.diag
    where = f" ({diag.context.strip().splitlines()[0]})" if diag.context else ""
    return f"{diag.message_primary or exc}{where}"


def _column_mapping(names: list[str], layer: Layer, report: ValidationReport) -> dict[str, str]:
    """Source column → table column, via aliases and case-insensitive names."""
    writable = {c.lower(): c for c in layer.writable_columns if c != "geom"}
    mapping: dict[str, str] = {}
    ignored = []
    for name in names:
        target = layer.aliases.get(name) or writable.get(name.lower()) or _dbf_truncated(name, writable)
        if target is not None and target in writable.values() and target not in mapping.values():
            mapping[name] = target
        else:
            ignored.append(name)
    if ignored:
        report.add("clean", "note", "columns_ignored",
                   f"Các cột không thuộc lớp bị bỏ qua / columns not in the layer, ignored: "
                   f"{', '.join(ignored)}", count=len(ignored))
    missing = [c for c in dict.fromkeys([layer.natural_key, *layer.required]) if c not in mapping.values()]
    if missing:
        report.add("complete", "error", "missing_column",
                   f"Thiếu cột bắt buộc / required columns missing: {', '.join(missing)}",
                   count=len(missing))
        raise _refused(layer, report)
    return mapping


def _dbf_truncated(name: str, writable: dict[str, str]) -> str | None:
    """Shapefiles cut field names to 10 characters (commune_code → commune_co): undo it."""
    if len(name) != 10:
        return None
    matches = [col for low, col in writable.items() if low.startswith(name.lower())]
    return matches[0] if len(matches) == 1 else None


def _integers(frame: pd.DataFrame, layer: Layer) -> pd.DataFrame:
    """Whole numbers read as floats (integer columns with gaps, spreadsheets' 2021.0) → integers."""
    for column in frame.columns:
        if isinstance(layer.sa_table.c[column].type, Integer) and pd.api.types.is_float_dtype(frame[column]):
            values = frame[column]
            if ((values.dropna() % 1) == 0).all():
                frame[column] = values.astype("Int64")
    return frame


def _prepare(batch: Batch, layer: Layer, mapping: dict[str, str], source_crs: CRS | None,
             area: shapely.Geometry | None, report: ValidationReport) -> pd.DataFrame:
    frame = _integers(batch.frame.rename(columns=mapping)[list(mapping.values())].copy(), layer)
    rows = np.arange(batch.first_row, batch.first_row + len(frame))
    keep = np.ones(len(frame), dtype=bool)
    for column in layer.required:
        missing = frame[column].isna().to_numpy() | (frame[column].astype(str).str.strip() == "").to_numpy()
        if missing.any():
            report.add("complete", "error", "missing_value",
                       f"Thiếu giá trị bắt buộc / required value missing in '{column}'",
                       rows[missing], count=int(missing.sum()))
            keep &= ~missing
    if layer.has_geometry:
        geoms = batch.geometry if batch.geometry is not None else np.full(len(frame), None, dtype=object)
        geoms = _to_storage_crs(np.asarray(geoms, dtype=object), source_crs, report, rows)
        geoms, rejected = fix_geometries(geoms, list(layer.geometry), rows, report)
        keep &= ~rejected
        if area is not None:
            before = int(keep.sum())
            keep = check_inside(geoms, keep, area, rows, report)
            if before - int(keep.sum()) > before // 2 and source_crs is not None:
                _hint_crs(None if batch.geometry is None else np.asarray(batch.geometry, dtype=object),
                          source_crs, area, report)
        frame = frame.assign(geom=shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True,
                                                 include_srid=True))
    report.counts.rejected += int((~keep).sum())
    return frame.assign(**{ROW: rows})[keep]


def _to_storage_crs(geoms: np.ndarray, src: CRS | None, report: ValidationReport,
                    rows: np.ndarray) -> np.ndarray:
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if src is None or not present.any():
        return geoms
    if src.is_geographic and not looks_geographic(geoms[present]):
        swapped = shapely.transform(geoms[present], lambda xy: xy[:, ::-1])
        if looks_geographic(swapped):  # lat, lon order: leave as is, check_inside names it
            return geoms
        report.add("correct", "error", "wrong_crs",
                   f"Sai hệ tọa độ / coordinates are not degrees but the CRS is {src.name}; "
                   "the data look projected (metres): give the right one with --crs, "
                   "e.g. EPSG:9215 (VN-2000 / TM-3 107°15′) or EPSG:3405 (VN-2000 / UTM 48N)",
                   rows[present], count=int(present.sum()))
        return np.full(len(geoms), None, dtype=object)
    if src.is_projected and looks_geographic(geoms[present]):
        report.add("correct", "error", "wrong_crs",
                   f"Sai hệ tọa độ / coordinates look like degrees but the CRS is projected "
                   f"({src.name}); use --crs EPSG:4326 or EPSG:4756 (VN-2000)",
                   rows[present], count=int(present.sum()))
        return np.full(len(geoms), None, dtype=object)
    out = geoms.copy()
    out[present] = to_storage(geoms[present], src)
    return out


def _hint_crs(raw: np.ndarray | None, src: CRS, area: shapely.Geometry,
              report: ValidationReport) -> None:
    if raw is None or any(i.code == "crs_hint" for i in report.issues):
        return
    better = suggest_crs(np.asarray(raw, dtype=object), src, area)
    if better:
        report.add("correct", "error", "crs_hint",
                   f"Có thể sai hệ tọa độ / most features fall outside the province in "
                   f"{src.name}; they fit in {better}: check the file's CRS (--crs)", count=1)


def _check_keys(stager: Stager, layer: Layer, report: ValidationReport, if_exists: IfExists) -> None:
    total, dups = stager.duplicate_keys()
    if total:
        report.add("clean", "error", "duplicate_key",
                   f"Trùng khóa '{layer.natural_key}' / duplicate values of the key "
                   f"'{layer.natural_key}'", rows=[r for _, rows in dups for r in rows],
                   keys=[k for k, _ in dups], count=total)
        return
    existing = stager.existing_keys() if if_exists != "replace" else 0
    if if_exists == "fail" and existing:
        report.add("clean", "error", "key_exists",
                   f"{existing} khóa đã có trong lớp / keys already in the layer "
                   "(use --if-exists upsert or replace)", count=existing)
        return
    report.counts.updated = existing
    report.counts.inserted = stager.rows - existing


def _check_current(modified: dt.datetime, layer: Layer, report: ValidationReport) -> None:
    """"Sống" (live): warn when the source is older than the layer's update cycle."""
    days = FREQUENCY_DAYS.get(layer.update_frequency)
    age = (dt.datetime.now(dt.UTC) - modified).days
    if days is not None and age > days:
        report.add("current", "warning", "stale_source",
                   f"Tệp đã {age} ngày chưa cập nhật, quá chu kỳ '{layer.update_frequency}' / "
                   f"the file was last modified {age} days ago, older than the layer's "
                   f"update cycle ({layer.update_frequency})", count=1)
    else:
        report.add("current", "note", "source_date",
                   f"Tệp cập nhật ngày / file last modified {modified:%Y-%m-%d}", count=1)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

