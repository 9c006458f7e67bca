"""The PostGIS schema (SQLAlchemy 2 + GeoAlchemy2). Alembic migrations create it.

Storage CRS is EPSG:4326 (lon/lat) everywhere; areas are computed by the database in
the province's own projection, VN-2000 / TM-3 107°15′ (EPSG:9215).
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

STORAGE_SRID = 4326
#: VN-2000 / TM-3 107°15′, the province's projection, used for areas.
AREA_SRID = 9215

_EMPTY = text("'{}'::text[]")

ACCESS_LEVELS = ("public", "internal", "restricted")
#: agency: staff of one agency; border: border security (reads restricted layers); admin: all.
ROLES = ("agency", "border", "admin")


def _geom_check(column: str, *types: str) -> CheckConstraint:
    allowed = ", ".join(f"'{t}'" for t in types)
    return CheckConstraint(
        f"GeometryType({column}) IN ({allowed})", name=f"{column}_type"
    )


def _area_ha(column: str = "geom") -> Computed:
    return Computed(f"round((ST_Area(ST_Transform({column}, {AREA_SRID})) / 10000.0)::numeric, 4)", persisted=True)


class Base(DeclarativeBase):
    pass


class LayerRecord(Base):
    """The catalogue: one row per layer, with its metadata and access level."""

    __tablename__ = "layers"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(63), unique=True)
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    abstract_vi: Mapped[str] = mapped_column(Text)
    abstract_en: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=_EMPTY)
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
    required_columns: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=_EMPTY)
    feature_count: Mapped[int] = mapped_column(Integer, server_default="0")
    extent: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
    last_updated: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(f"access_level IN {ACCESS_LEVELS}", name="access_level_known"),
    )


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


class AdminUnit(Base):
    """The province outline and its 65 communes and wards (2025 units)."""

    __tablename__ = "admin_units"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text)
    full_name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    full_name_en: Mapped[str | None] = mapped_column(Text)
    unit_type: Mapped[str] = mapped_column(Text)
    province_code: Mapped[str] = mapped_column(String(4))
    merged_from_pre2025: Mapped[str | None] = mapped_column(Text)
    area_ha: Mapped[float] = mapped_column(Float, _area_ha())
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)
    __table_args__ = (CheckConstraint("level IN ('province', 'commune')", name="level_known"),)


class Problem(Base):
    """A "big problem" (bài toán lớn) of the province's science and digital-transformation lists."""

    __tablename__ = "problems"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    summary_en: Mapped[str | None] = mapped_column(Text)
    lead_agency_vi: Mapped[str] = mapped_column(Text)
    lead_agency_en: Mapped[str | None] = mapped_column(Text)
    partner_agencies_vi: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=_EMPTY)
    outputs_vi: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=_EMPTY)
    metrics_vi: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=_EMPTY)
    milestones_vi: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=_EMPTY)
    basis_vi: Mapped[str | None] = mapped_column(Text)
    source_document: Mapped[str] = mapped_column(Text)
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=_EMPTY)
    __table_args__ = (UniqueConstraint("year", "number", name="problems_year_number"),)


class PilotSite(Base):
    """Where a problem is piloted: a point or an area."""

    __tablename__ = "pilot_sites"
    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    problem_code: Mapped[str] = mapped_column(ForeignKey("problems.code"))
    name_vi: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    agency_vi: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="planned")
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    description_vi: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    location_source: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("GEOMETRY", srid=STORAGE_SRID, spatial_index=True), nullable=False)
    __table_args__ = (
        _geom_check("geom", "POINT", "MULTIPOLYGON"),
        CheckConstraint("status IN ('planned', 'active', 'completed')", name="status_known"),
        CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
                        name="dates_ordered"),
    )


class ForestPlot(Base):
    """Forest plots (lô rừng): plot code, commune, forest type, owner, area in ha (EPSG:9215)."""

    __tablename__ = "forest_plots"
    plot_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    commune_code: Mapped[str] = mapped_column(String(8), index=True)
    forest_type: Mapped[str] = mapped_column(String(16))
    forest_type_vi: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str | None] = mapped_column(String(16))
    origin_vi: Mapped[str | None] = mapped_column(Text)
    species_vi: Mapped[str | None] = mapped_column(Text)
    owner_type: Mapped[str | None] = mapped_column(String(32))
    owner_vi: Mapped[str] = mapped_column(Text)
    planted_year: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text)
    area_ha: Mapped[float] = mapped_column(Float, _area_ha())
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)
    __table_args__ = (
        CheckConstraint("forest_type IN ('special_use', 'protection', 'production')",
                        name="forest_type_known"),
    )


class IndustrialPark(Base):
    """Industrial parks (khu công nghiệp): location or boundary, status, planned area."""

    __tablename__ = "industrial_parks"
    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name_vi: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    status_vi: Mapped[str | None] = mapped_column(Text)
    planned_area_ha: Mapped[float | None] = mapped_column(Float)
    developer: Mapped[str | None] = mapped_column(Text)
    commune_code: Mapped[str | None] = mapped_column(String(8))
    location_accuracy: Mapped[str | None] = mapped_column(String(16))
    location_source: Mapped[str | None] = mapped_column(Text)
    location_note: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("GEOMETRY", srid=STORAGE_SRID, spatial_index=True), nullable=False)
    __table_args__ = (_geom_check("geom", "POINT", "MULTIPOLYGON"),)


class BorderGate(Base):
    """Border gates and crossings with China: type, paired Chinese gate, landmarks."""

    __tablename__ = "border_gates"
    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name_vi: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    gate_type: Mapped[str] = mapped_column(String(32))
    gate_type_vi: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[str | None] = mapped_column(String(16))
    paired_gate_cn: Mapped[str | None] = mapped_column(Text)
    landmarks: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=_EMPTY)
    commune_code: Mapped[str | None] = mapped_column(String(8))
    location_accuracy: Mapped[str | None] = mapped_column(String(16))
    location_source: Mapped[str | None] = mapped_column(Text)
    location_note: Mapped[str | None] = mapped_column(Text)
    notes_vi: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True), nullable=False)


class BorderLine(Base):
    """The Viet Nam – China land border along Lạng Sơn (administrative-map outline)."""

    __tablename__ = "border_line"
    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name_vi: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    length_km: Mapped[float] = mapped_column(
        Float, Computed(f"round((ST_Length(ST_Transform(geom, {AREA_SRID})) / 1000.0)::numeric, 3)", persisted=True)
    )
    geom = mapped_column(Geometry("MULTILINESTRING", srid=STORAGE_SRID, spatial_index=True),
                         nullable=False)


class TransportLine(Base):
    """National roads and railways (generalised overview network)."""

    __tablename__ = "transport_network"
    gid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str | None] = mapped_column(Text)
    road_class_vi: Mapped[str | None] = mapped_column(Text)
    kind_vi: Mapped[str | None] = mapped_column(Text)
    kind_en: Mapped[str] = mapped_column(String(32))
    class_en: Mapped[str | None] = mapped_column(String(32))
    geom = mapped_column(Geometry("MULTILINESTRING", srid=STORAGE_SRID, spatial_index=True),
                         nullable=False)


class River(Base):
    """Rivers (WDBII via GSHHG, overview scale)."""

    __tablename__ = "rivers"
    gid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wdb_level: Mapped[int] = mapped_column(Integer)
    wdb_class: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTILINESTRING", srid=STORAGE_SRID, spatial_index=True),
                         nullable=False)


class PointOfInterest(Base):
    """Points of interest from OpenStreetMap (tourism, services, transport)."""

    __tablename__ = "poi_osm"
    osm_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str | None] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64))
    amenity: Mapped[str | None] = mapped_column(Text)
    tourism: Mapped[str | None] = mapped_column(Text)
    shop: Mapped[str | None] = mapped_column(Text)
    opening_hours: Mapped[str | None] = mapped_column(Text)
    commune_code: Mapped[str | None] = mapped_column(String(8))
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=True), nullable=False)


class BorderBelt(Base):
    """The border belt (vành đai biên giới, Decree 34/2014/NĐ-CP): restricted to border security."""

    __tablename__ = "border_belt"
    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name_vi: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    width_m: Mapped[float] = mapped_column(Float)
    commune_code: Mapped[str | None] = mapped_column(String(8))
    basis: Mapped[str | None] = mapped_column(Text)
    area_ha: Mapped[float] = mapped_column(Float, _area_ha(), nullable=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)


class ApiKey(Base):
    """A credential for the API: only a SHA-256 digest of the secret is kept."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    agency: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    #: the key's public prefix (``sdi_xxxxxxxx``) for lookup and display; never the secret.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="role_known"),)


class AccessLogEntry(Base):
    """Audit log: every read of a restricted layer and every edit, with who and what."""

    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    key_name: Mapped[str | None] = mapped_column(String(128))
    layer_id: Mapped[str] = mapped_column(String(63))
    action: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)


class RasterCollection(Base):
    """A collection of rasters (UAV flights, Sentinel-2 scenes, DEM, …): STAC collection metadata
    and the same access rule as vector layers (``access_level``, owning agency)."""

    __tablename__ = "raster_collections"
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    title_vi: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    description_vi: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=_EMPTY)
    owner: Mapped[str] = mapped_column(String(32))
    licence: Mapped[str] = mapped_column(Text)
    access_level: Mapped[str] = mapped_column(String(16), server_default="public")
    #: rgb | multispectral | sentinel2 | dem | categorical: decides COG profile and resampling
    kind: Mapped[str] = mapped_column(String(16))
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


class ChangeEvent(Base):
    """A forest change event (biến động rừng): a loss or gain polygon between two raster items,
    with its plot and commune, for rangers to verify (status new → verified / false_alarm)."""

    __tablename__ = "change_events"
    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    change_type: Mapped[str] = mapped_column(String(8))
    before_item: Mapped[str] = mapped_column(String(127), index=True)
    after_item: Mapped[str] = mapped_column(String(127), index=True)
    before_date: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    after_date: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    magnitude: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    vegetation_index: Mapped[str] = mapped_column(String(8))
    plot_code: Mapped[str | None] = mapped_column(String(40), index=True)
    commune_code: Mapped[str | None] = mapped_column(String(8), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="new")
    note: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    area_ha: Mapped[float] = mapped_column(Float, _area_ha())
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)
    __table_args__ = (
        CheckConstraint("status IN ('new', 'verified', 'false_alarm')", name="change_status_known"),
        CheckConstraint("change_type IN ('loss', 'gain')", name="change_type_known"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="change_confidence_range"),
        CheckConstraint("after_date >= before_date", name="change_dates_ordered"),
    )
