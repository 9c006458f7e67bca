"""The catalogue: layers and their loads, raster collections and items, and the access levels they carry."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sdi.models.base import EMPTY_TEXT_ARRAY, STORAGE_SRID, Base

ACCESS_LEVELS = ("public", "internal", "restricted")


class LayerRecord(Base):
    """The catalogue: one row per layer, with its metadata and access level."""

    __tablename__ = "layers"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(63), unique=True)
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    abstract_vi: Mapped[str] = mapped_column(Text)
    abstract_en: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    #: code of the owning agency (``sdi/agencies.yaml``): its staff may edit the layer.
    owner: Mapped[str] = mapped_column(String(32), server_default="")
    owner_agency: Mapped[str] = mapped_column(Text)
    owner_agency_en: Mapped[str] = mapped_column(Text)
    licence: Mapped[str] = mapped_column(Text)
    attribution: Mapped[str] = mapped_column(Text)
    access_level: Mapped[str] = mapped_column(String(16), default="public")
    update_frequency: Mapped[str] = mapped_column(String(32))
    geometry_type: Mapped[str | None] = mapped_column(String(32))
    natural_key: Mapped[str] = mapped_column(String(63))
    required_columns: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    feature_count: Mapped[int] = mapped_column(Integer, server_default="0")
    extent: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
    last_updated: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: a published layer's attribute columns (``layers.published.ColumnSpec``); None: a bundled layer,
    #: whose table is a model
    columns: Mapped[list[dict] | None] = mapped_column(JSONB)
    #: metadata beyond the titles and abstracts (edited with PATCH /layers/{id}): English keywords, a
    #: contact, the lineage, the temporal extent and the scale of the source
    keywords_en: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    contact: Mapped[str | None] = mapped_column(Text)
    lineage: Mapped[str | None] = mapped_column(Text)
    temporal_start: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    temporal_end: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    scale_denominator: Mapped[int | None] = mapped_column(Integer)
    #: agencies the owner shares the layer with, beyond its access level: {agency code: "read" | "edit"}
    grants: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    #: who published it (the key's name and agency), and when
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint(f"access_level IN {ACCESS_LEVELS}", name="access_level_known"),
    )


class LayerTrash(Base):
    """Unpublished layers, kept ``SDI_TRASH_DAYS`` for a restore: the catalogue row and the load log as
    they were (JSON of the rows), the table itself moved to the schema ``trash``."""

    __tablename__ = "layer_trash"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer_id: Mapped[str] = mapped_column(String(63), index=True)
    trash_table: Mapped[str] = mapped_column(String(63), unique=True)
    record: Mapped[dict] = mapped_column(JSONB)
    loads: Mapped[list] = mapped_column(JSONB)
    deleted_by: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LoadRecord(Base):
    """Every load or validation run, with its full report (the audit of data quality)."""

    __tablename__ = "layer_loads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer_id: Mapped[str] = mapped_column(ForeignKey("layers.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str | None] = mapped_column(String(64))
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict] = mapped_column(JSONB)


class RasterCollection(Base):
    """A collection of rasters (UAV flights, Sentinel-2 scenes, DEM, …): STAC collection metadata
    and the same access rule as vector layers (``access_level``, owning agency)."""

    __tablename__ = "raster_collections"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    description_vi: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    owner: Mapped[str] = mapped_column(String(32))
    licence: Mapped[str] = mapped_column(Text)
    access_level: Mapped[str] = mapped_column(String(16), server_default="public")
    #: rgb | multispectral | sentinel2 | dem | categorical: decides COG profile and resampling
    kind: Mapped[str] = mapped_column(String(16))
    #: default band names (STAC eo common names) for files that do not name theirs
    bands: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    #: agencies the owner shared the collection with: {agency: "read" | "edit"} (as ``Layer.grants``)
    grants: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    __table_args__ = (
        CheckConstraint(f"access_level IN {ACCESS_LEVELS}", name="raster_access_level_known"),
        CheckConstraint("kind IN ('rgb', 'multispectral', 'sentinel2', 'dem', 'categorical')",
                        name="raster_kind_known"),
    )


class RasterItem(Base):
    """One ingested raster: a COG in the store and its STAC item.

    Registration is two-phase so that a crash never leaves a row without its file nor a
    file without its row: the row is written ``pending`` (with the final path) before the
    file is moved into place, then marked ``ready``; readers see ``ready`` rows only, and a
    re-run or ``sdi ingest --repair`` resolves ``pending`` rows and orphan files.
    """

    __tablename__ = "raster_items"
    id: Mapped[str] = mapped_column(String(127), primary_key=True)
    collection_id: Mapped[str] = mapped_column(ForeignKey("raster_collections.id", ondelete="RESTRICT"), index=True)
    datetime: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    #: SHA-256 of the *source* file: re-ingesting the same file is detected by it
    source_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: path of the COG relative to the store root (``Settings.raster_store``)
    href: Mapped[str] = mapped_column(Text, unique=True)
    cog_sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    platform: Mapped[str | None] = mapped_column(Text)
    gsd_m: Mapped[float | None] = mapped_column(Float)
    epsg: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    band_count: Mapped[int | None] = mapped_column(Integer)
    #: the whole STAC Item (eo, projection, raster, file extensions), as served at /stac
    stac: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: footprint of the valid data (not just the bounding box)
    footprint = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=True)
    __table_args__ = (CheckConstraint("status IN ('pending', 'ready')", name="raster_status_known"),)
