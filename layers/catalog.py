"""The layer catalogue: typed ``Layer`` models built from the ``layers`` table and PostGIS.

``catalog.yaml`` is the configuration; ``sync_catalog`` writes it into the database, and
``load_catalog`` reads it back joined with the live tables (like tipg's collection index).
The catalogue is also the whitelist of tables and columns: SQL identifiers are only ever
taken from it, never from user input.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, Table, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from layers.published import SCHEMA, ColumnSpec, table_for
from sdi.agencies import read_agencies
from sdi.errors import NotFoundError
from sdi.models import Base, LayerRecord

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")

AccessLevel = Literal["public", "internal", "restricted"]
UpdateFrequency = Literal[
    "continual", "daily", "weekly", "fortnightly", "monthly", "quarterly", "biannually",
    "annually", "asNeeded", "irregular", "notPlanned", "unknown",
]  # ISO 19115 MD_MaintenanceFrequencyCode

#: How old a source may be before a load warns that it is stale ("sống": live data).
FREQUENCY_DAYS: dict[str, int] = {
    "daily": 2, "weekly": 8, "fortnightly": 15, "monthly": 32, "quarterly": 93,
    "biannually": 184, "annually": 366,
}


class LayerSpec(BaseModel):
    """One entry of ``catalog.yaml``: metadata plus the rules a load must satisfy."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    table: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    title_vi: str
    title_en: str
    abstract_vi: str
    abstract_en: str
    keywords: list[str] = []
    owner: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    owner_agency: str
    owner_agency_en: str
    licence: str
    attribution: str
    access_level: AccessLevel = "public"
    update_frequency: UpdateFrequency = "unknown"
    geometry: list[Literal["POINT", "MULTIPOLYGON", "MULTILINESTRING"]] = []
    natural_key: str
    #: the date column that the OGC API's ``datetime`` parameter filters on
    time_field: str | None = None
    required: list[str] = []
    aliases: dict[str, str] = {}
    #: a published layer's attribute columns (its table is then ``published.<table>``); None: a model's table
    columns: list[ColumnSpec] | None = None

    @property
    def published(self) -> bool:
        """Published by an agency (``sdi layers create``), not bundled with the platform."""
        return self.columns is not None

    @property
    def db_schema(self) -> str:
        """The PostgreSQL schema of the layer's table."""
        return SCHEMA if self.columns is not None else "public"

    @property
    def sa_table(self) -> Table:
        """The SQLAlchemy table (from the models, or from a published layer's columns: the whitelist)."""
        if self.columns is None:
            return Base.metadata.tables[self.table]
        return table_for(self.table, self.columns, self.natural_key, list(self.geometry))


class Layer(LayerSpec):
    """A catalogued layer as it stands in the database."""

    feature_count: int = 0
    extent: list[float] | None = None
    last_updated: dt.datetime | None = None
    keywords_en: list[str] = []
    contact: str | None = None
    lineage: str | None = None
    temporal_start: dt.datetime | None = None
    temporal_end: dt.datetime | None = None
    scale_denominator: int | None = None
    created_by: str | None = None
    #: agencies the owner shares the layer with: {agency code: "read" | "edit"} (``sdi.access``)
    grants: dict[str, Literal["read", "edit"]] = {}

    @property
    def has_geometry(self) -> bool:
        return bool(self.geometry)

    @property
    def writable_columns(self) -> list[str]:
        """Columns a load may write: all but generated ones."""
        return [c.name for c in self.sa_table.columns if c.computed is None]


def read_specs(path: Path = CATALOG_FILE) -> dict[str, LayerSpec]:
    """Parse and check ``catalog.yaml``."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    specs = [LayerSpec.model_validate(entry) for entry in entries]
    agencies = read_agencies()
    for spec in specs:
        if spec.owner not in agencies:
            raise ValueError(f"catalog entry {spec.id}: unknown owner agency {spec.owner!r}")
        table = Base.metadata.tables.get(spec.table)
        if table is None:
            raise ValueError(f"catalog entry {spec.id}: no table {spec.table} in sdi.models")
        unknown = {spec.natural_key, *spec.required, *([spec.time_field] if spec.time_field else [])} - set(
            table.columns.keys())
        if unknown:
            raise ValueError(f"catalog entry {spec.id}: unknown columns {sorted(unknown)}")
    return {spec.id: spec for spec in specs}


def sync_catalog(conn: Connection, specs: dict[str, LayerSpec]) -> None:
    """Write the configured metadata into ``layers``, keeping counts and dates."""
    for spec in specs.values():
        values = {
            "id": spec.id, "table_name": spec.table, "title_vi": spec.title_vi,
            "title_en": spec.title_en, "abstract_vi": spec.abstract_vi,
            "abstract_en": spec.abstract_en, "keywords": spec.keywords,
            "owner": spec.owner, "owner_agency": spec.owner_agency, "owner_agency_en": spec.owner_agency_en,
            "licence": spec.licence, "attribution": spec.attribution,
            "access_level": spec.access_level, "update_frequency": spec.update_frequency,
            "geometry_type": ",".join(spec.geometry) or None,
            "natural_key": spec.natural_key, "required_columns": spec.required,
        }
        stmt = insert(LayerRecord).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[LayerRecord.id], set_={k: v for k, v in values.items() if k != "id"}
        )
        conn.execute(stmt)


def load_catalog(engine: Engine | Connection, specs: dict[str, LayerSpec] | None = None) -> dict[str, Layer]:
    """Every catalogued layer, with its live statistics, ordered by id."""
    specs = specs if specs is not None else read_specs()
    with Session(engine) as session:
        rows = session.scalars(select(LayerRecord).order_by(LayerRecord.id)).all()
    catalog: dict[str, Layer] = {}
    for row in rows:
        spec = specs.get(row.id)
        base = spec.model_dump() if spec else {}
        base.update(
            id=row.id, table=row.table_name, title_vi=row.title_vi, title_en=row.title_en,
            abstract_vi=row.abstract_vi, abstract_en=row.abstract_en, keywords=row.keywords,
            owner=row.owner, owner_agency=row.owner_agency, owner_agency_en=row.owner_agency_en,
            licence=row.licence, attribution=row.attribution, access_level=row.access_level,
            update_frequency=row.update_frequency, natural_key=row.natural_key,
            required=row.required_columns, feature_count=row.feature_count,
            extent=row.extent, last_updated=row.last_updated,
            geometry=row.geometry_type.split(",") if row.geometry_type else [],
            columns=row.columns, keywords_en=row.keywords_en or [], contact=row.contact, lineage=row.lineage,
            temporal_start=row.temporal_start, temporal_end=row.temporal_end,
            scale_denominator=row.scale_denominator, created_by=row.created_by, grants=row.grants or {},
        )
        catalog[row.id] = Layer.model_validate(base)
    return catalog


def get_layer(catalog: dict[str, Layer], layer_id: str) -> Layer:
    """The layer ``layer_id``, or a ``NotFoundError`` naming the known ones."""
    try:
        return catalog[layer_id]
    except KeyError:
        raise NotFoundError(
            f"Không có lớp '{layer_id}' / no layer '{layer_id}'. "
            f"Known layers: {', '.join(sorted(catalog))}"
        ) from None


def refresh_stats(conn: Connection, layer: LayerSpec) -> None:
    """Recompute a layer's feature count, extent and last-updated time."""
    table = layer.sa_table
    count = conn.execute(select(func.count()).select_from(table)).scalar_one()
    extent = None
    if layer.geometry and count:
        box = conn.execute(
            select(
                func.ST_XMin(func.ST_Extent(table.c.geom)), func.ST_YMin(func.ST_Extent(table.c.geom)),
                func.ST_XMax(func.ST_Extent(table.c.geom)), func.ST_YMax(func.ST_Extent(table.c.geom)),
            )
        ).one()
        extent = [round(v, 7) for v in box]
    conn.execute(
        update(LayerRecord)
        .where(LayerRecord.id == layer.id)
        .values(feature_count=count, extent=extent, last_updated=text("now()"))
    )
