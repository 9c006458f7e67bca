"""Tables of published layers: what an agency's upload became (``sdi layers create``).

A bundled layer's table is a model in ``sdi.models``; a published layer's table is described by its
catalogue row (``layers.columns``: the attribute columns and their types, and ``geometry_type``),
and ``table_for`` turns that description into a SQLAlchemy ``Table`` — the same whitelist of
identifiers the loader, the OGC providers and the exports use for bundled layers. Every published
table has what the fixed layers have: the key, the geometry in EPSG:4326 with a GIST index, and
the area (ha) or length (km) computed by PostGIS in VN-2000 / TM-3 107°15′ (EPSG:9215).
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache
from typing import Literal

from geoalchemy2 import Geometry
from pydantic import BaseModel, Field
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Connection,
    Date,
    DateTime,
    Float,
    MetaData,
    Table,
    Text,
    func,
    select,
)
from sqlalchemy.types import TypeEngine

from sdi.models import Base
from sdi.models.base import AREA_SRID, STORAGE_SRID, area_ha_column, geometry_type_check
from sdi.text import fold

ColumnType = Literal["text", "integer", "real", "boolean", "date", "datetime"]
GeometryType = Literal["POINT", "MULTIPOLYGON", "MULTILINESTRING"]

_TYPES: dict[str, type[TypeEngine]] = {"text": Text, "integer": BigInteger, "real": Float, "boolean": Boolean,
                                       "date": Date, "datetime": DateTime}
#: the PostgreSQL schema of published tables (apart from the models' tables: Alembic leaves it alone)
SCHEMA = "published"
#: the synthetic key of a layer whose file has none (the feature's row number in the file)
SYNTHETIC_KEY = "fid"
#: columns every published table may carry besides the file's own
GENERATED = {"geom", "area_ha", "length_km"}
#: names a published layer or column may not take: the platform's own tables and PostgreSQL's
RESERVED = {*Base.metadata.tables, "spatial_ref_sys", "geometry_columns", "geography_columns", "raster_columns",
            "raster_overviews", "alembic_version", "catalogue", "collections", "conformance", "processes",
            "jobs", "api", "openapi", "stac", "rasters", "layers", "webmap", "qgis", "health"}
LAYER_ID = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


class ColumnSpec(BaseModel):
    """One attribute column of a published layer."""

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    type: ColumnType
    #: the column's name in the uploaded file, when it had to be changed to be an identifier
    source: str | None = None


def lock_layer_id(conn: Connection, layer_id: str) -> None:
    """Hold a transaction-level advisory lock on a layer id: publishing, unpublishing and restoring
    one id take turns (across processes and replicas)."""
    conn.execute(select(func.pg_advisory_xact_lock(zlib.crc32(f"layer:{layer_id}".encode()))))


def column_name(source: str, taken: set[str]) -> str:
    """An identifier for a file's column: folded to ASCII (Vietnamese diacritics, đ → d), lower case,
    other characters as ``_``, at most 63 characters, not taken, not reserved."""
    name = re.sub(r"[^a-z0-9_]+", "_", fold(source)).strip("_") or "column"
    if name[0].isdigit():
        name = f"c_{name}"
    name = name[:63]
    base, n = name, 2
    while name in taken or name in GENERATED or name in RESERVED:
        suffix = f"_{n}"
        name, n = base[:63 - len(suffix)] + suffix, n + 1
    return name


@lru_cache(maxsize=512)
def _table(table: str, columns: tuple[tuple[str, str], ...], key: str, geometry: str | None) -> Table:
    """The table, on a metadata of its own (one per definition: a changed schema is a new object)."""
    cols: list[Column] = []
    for name, kind in columns:
        cols.append(Column(name, _TYPES[kind](), primary_key=name == key, nullable=name != key))
    if geometry is not None:
        if geometry == "MULTIPOLYGON":
            cols.append(Column("area_ha", Float, area_ha_column()))
        elif geometry == "MULTILINESTRING":
            cols.append(Column("length_km", Float, Computed(
                f"round((ST_Length(ST_Transform(geom, {AREA_SRID})) / 1000.0)::numeric, 3)", persisted=True)))
        cols.append(Column("geom", Geometry(geometry, srid=STORAGE_SRID, spatial_index=True), nullable=False))
        kinds = {"MULTIPOLYGON": "MULTIPOLYGON", "MULTILINESTRING": "MULTILINESTRING", "POINT": "POINT"}
        return Table(table, MetaData(), *cols, geometry_type_check("geom", kinds[geometry]), schema=SCHEMA)
    return Table(table, MetaData(), *cols, schema=SCHEMA)


def table_for(table: str, columns: list[ColumnSpec], key: str, geometry: list[str]) -> Table:
    """The SQLAlchemy table of a published layer (see the module docstring)."""
    if len(geometry) > 1:
        raise ValueError(f"a published layer has one geometry type, not {geometry}")
    return _table(table, tuple((c.name, c.type) for c in columns), key, geometry[0] if geometry else None)
