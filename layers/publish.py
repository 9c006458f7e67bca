"""Publish a new layer from an agency's file: ``sdi layers create`` (and, later, ``POST /layers``).

One transaction, all or nothing:

1. the layer id is checked (an identifier, not reserved, not taken by a layer or a table), under a
   transaction-level advisory lock on the id, so of two publications of one id at the same time one
   wins and the other is told the id is taken (409);
2. the file is opened like any load (``layers.sources``: GeoPackage, zipped Shapefile with its
   .prj/.cpg, GeoJSON, CSV with lon/lat or WKT, KML, FlatGeobuf) and its schema is inferred from the
   first batch: each column's type, names made identifiers (Vietnamese folded to ASCII), one geometry
   type (points, lines or polygons; single parts promoted to multi-parts as the fixed layers store);
3. the table ``published.<id>`` is created with the key, a GIST index on the geometry and the area
   (ha) or length (km) computed in VN-2000 (``layers.published``), and the catalogue row written;
4. the rows go through the validating loader (``layers.loader``: repair, inside the province,
   duplicate keys, the CRS check) in the same transaction.

A refusal at any step rolls everything back: no table, no catalogue row. The catalogue changes, so
every door serves the new layer within a second, without a restart (``sdi.callers.Door``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
from sqlalchemy import Connection, Engine, func, inspect, select
from sqlalchemy.dialects.postgresql import insert

from layers.catalog import AccessLevel, Layer
from layers.loader import load_batches
from layers.published import (
    LAYER_ID,
    RESERVED,
    SCHEMA,
    SYNTHETIC_KEY,
    ColumnSpec,
    ColumnType,
    GeometryType,
    column_name,
    lock_layer_id,
)
from layers.quality import ValidationReport
from layers.sources import Batch, VectorSource, open_source
from sdi.access import Principal
from sdi.agencies import read_agencies
from sdi.errors import ConflictError, InvalidInputError
from sdi.models import LayerRecord
from sdi.settings import Settings

#: OGR geometry types → the one type a published table stores
_GEOMETRY: dict[str, GeometryType] = {"Point": "POINT", "Point Z": "POINT", "3D Point": "POINT",
             "LineString": "MULTILINESTRING", "MultiLineString": "MULTILINESTRING",
             "3D LineString": "MULTILINESTRING", "3D MultiLineString": "MULTILINESTRING",
             "Polygon": "MULTIPOLYGON", "MultiPolygon": "MULTIPOLYGON",
             "3D Polygon": "MULTIPOLYGON", "3D MultiPolygon": "MULTIPOLYGON"}


def check_layer_id(conn: Connection, layer_id: str) -> None:
    """Refuse an id that is not an identifier, is reserved, or names a layer or table already there."""
    shown = layer_id if len(layer_id) <= 70 else layer_id[:67] + "…"
    if not LAYER_ID.fullmatch(layer_id):
        raise InvalidInputError(f"Mã lớp không hợp lệ / invalid layer id {shown!r}: 2–63 characters, lower-case "
                                "letters, digits and _, starting with a letter (e.g. diem_du_lich)")
    if layer_id in RESERVED or layer_id.startswith("pg_"):
        raise InvalidInputError(f"Mã lớp đã dành riêng / the layer id {shown!r} is reserved by the platform")
    schema = inspect(conn)
    taken = {*schema.get_table_names(schema=SCHEMA), *schema.get_table_names()}
    exists = conn.scalar(select(func.count()).select_from(LayerRecord).where(LayerRecord.id == layer_id))
    if exists or layer_id in taken:
        raise ConflictError(f"Mã lớp đã có / a layer or table named {shown!r} already exists; choose another id, "
                            "or load into it (sdi layers load)")


def create_layer(path: Path, layer_id: str, *, engine: Engine, settings: Settings, title_vi: str, title_en: str,
                 owner: str, who: Principal | None = None, access_level: AccessLevel = "internal",
                 abstract_vi: str = "", abstract_en: str = "", keywords: list[str] | None = None,
                 licence: str = "", attribution: str = "", key: str | None = None, crs: str | None = None,
                 source_layer: str | None = None, source_name: str | None = None) -> tuple[Layer, ValidationReport]:
    """Publish ``path`` as the new layer ``layer_id`` (see the module docstring); its layer and report
    (``source_name``: the file's name as the user knows it, for an upload staged under another)."""
    if not title_vi.strip():
        raise InvalidInputError("Thiếu tên lớp tiếng Việt / the Vietnamese title is required (--title-vi)")
    agencies = read_agencies()
    if owner not in agencies:
        raise InvalidInputError(f"Cơ quan không rõ / unknown agency {owner!r}; known: {', '.join(sorted(agencies))}")
    with engine.connect() as conn:
        check_layer_id(conn, layer_id)
    source = open_source(path, crs=crs, source_layer=source_layer, max_bytes=settings.max_load_bytes)
    batches = source.batches(settings.load_batch_size)
    first = next(batches, None)
    if first is None or first.frame.empty and first.geometry is None:
        raise InvalidInputError(f"Tệp không có đối tượng nào / {path.name} has no features")
    synthetic = SYNTHETIC_KEY if SYNTHETIC_KEY not in first.frame.columns else f"{SYNTHETIC_KEY}_sdi"
    columns, aliases = _infer_columns(first.frame, synthetic)
    geometry = _geometry_type(source)
    if key is not None:
        if key not in aliases and key not in {c.name for c in columns}:
            raise InvalidInputError(f"Không có cột khoá / no column {key!r} in {path.name}; columns: "
                                    f"{', '.join(first.frame.columns)}")
        key = aliases.get(key, key)
    else:
        key = synthetic
        columns.insert(0, ColumnSpec(name=synthetic, type="integer"))
    agency = agencies[owner]
    layer = Layer(id=layer_id, table=layer_id, title_vi=title_vi.strip(), title_en=title_en.strip() or title_vi,
                  abstract_vi=abstract_vi, abstract_en=abstract_en, keywords=keywords or [], owner=owner,
                  owner_agency=agency.name_vi, owner_agency_en=agency.name_en, licence=licence,
                  attribution=attribution or agency.name_vi, access_level=access_level, geometry=[geometry],
                  natural_key=key, required=[], aliases=aliases, columns=columns)

    def create(conn: Connection) -> None:
        # the second of two publications of one id waits here, then finds the id taken
        lock_layer_id(conn, layer_id)
        check_layer_id(conn, layer_id)
        layer.sa_table.create(conn)
        conn.execute(insert(LayerRecord).values(
            id=layer.id, table_name=layer.table, title_vi=layer.title_vi, title_en=layer.title_en,
            abstract_vi=layer.abstract_vi, abstract_en=layer.abstract_en, keywords=layer.keywords,
            owner=layer.owner, owner_agency=layer.owner_agency, owner_agency_en=layer.owner_agency_en,
            licence=layer.licence, attribution=layer.attribution, access_level=layer.access_level,
            update_frequency=layer.update_frequency, geometry_type=geometry, natural_key=key,
            required_columns=[], columns=[c.model_dump() for c in columns],
            created_by=who.label if who is not None else None))

    report = ValidationReport(layer=layer_id, source=source_name or path.name, driver=source.driver,
                              source_crs=source.crs.to_string() if source.crs else None, mode="fail")
    report = load_batches(_with_key(first, batches, synthetic if key == synthetic else None), layer, engine=engine,
                          settings=settings, source_crs=source.crs, report=report, if_exists="fail",
                          before=create)
    return layer, report


def _infer_columns(frame: pd.DataFrame, synthetic: str) -> tuple[list[ColumnSpec], dict[str, str]]:
    """Column specs of a batch's attributes, and the renames (file name → identifier)."""
    columns: list[ColumnSpec] = []
    aliases: dict[str, str] = {}
    taken: set[str] = {synthetic}
    for source in frame.columns:
        name = column_name(str(source), taken)
        taken.add(name)
        columns.append(ColumnSpec(name=name, type=_kind(frame[source]), source=None if name == source else source))
        if name != source:
            aliases[str(source)] = name
    return columns, aliases


def _kind(values: pd.Series) -> ColumnType:
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        present = values.dropna()
        return "integer" if len(present) and ((present % 1) == 0).all() and present.abs().max() < 2**53 else "real"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    present = values.dropna()
    if len(present) and all(type(v).__name__ == "date" for v in present):
        return "date"
    return "text"


def _geometry_type(source: VectorSource) -> GeometryType:
    """The one geometry type of the file (promoted to multi-parts for lines and polygons)."""
    info = pyogrio.read_info(source.gdal_path, layer=source.layer, **source.open_options)
    declared = str(info.get("geometry_type") or "")
    kind = _GEOMETRY.get(declared)
    if kind is None:
        if declared in ("Unknown", "Geometry", "GeometryCollection", ""):
            # GeoJSON and KML declare nothing: the loader checks each feature against the first one's type
            kind = _first_type(source)
        else:
            raise InvalidInputError(f"Kiểu hình học không hỗ trợ / unsupported geometry type {declared!r} in "
                                    f"{source.path.name}: publish points, lines or polygons, one type per layer")
    return kind


def _first_type(source: VectorSource) -> GeometryType:
    for batch in source.batches(1000):
        for geom in batch.geometry if isinstance(batch.geometry, np.ndarray) else []:
            if geom is not None and not geom.is_empty:
                kind = _GEOMETRY.get(geom.geom_type)
                if kind is None:
                    raise InvalidInputError(f"Kiểu hình học không hỗ trợ / unsupported geometry type "
                                            f"{geom.geom_type!r} in {source.path.name}")
                return kind
    raise InvalidInputError(f"Tệp không có hình học / {source.path.name} has no geometry")


def _with_key(first: Batch, rest: Iterator[Batch], synthetic: str | None) -> Iterator[Batch]:
    """The batches again (the first one was read to infer the schema), with the row number as the
    synthetic key when the file has none."""
    for batch in _chain(first, rest):
        if synthetic is not None:
            batch.frame[synthetic] = range(batch.first_row, batch.first_row + len(batch.frame))
        yield batch


def _chain(first: Batch, rest: Iterator[Batch]) -> Iterator[Batch]:
    yield first
    yield from rest
