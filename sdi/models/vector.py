"""The tables the catalogue serves as layers (``layers/catalog.yaml``): boundaries, forest, border,
transport, rivers, points of interest, the province's problems and pilot sites, forest change events."""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from sdi.models.base import AREA_SRID, EMPTY_TEXT_ARRAY, STORAGE_SRID, Base, area_ha_column, geometry_type_check


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
    area_ha: Mapped[float] = mapped_column(Float, area_ha_column())
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
    partner_agencies_vi: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    outputs_vi: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    metrics_vi: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    milestones_vi: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    basis_vi: Mapped[str | None] = mapped_column(Text)
    source_document: Mapped[str] = mapped_column(Text)
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
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
        geometry_type_check("geom", "POINT", "MULTIPOLYGON"),
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
    area_ha: Mapped[float] = mapped_column(Float, area_ha_column())
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
    __table_args__ = (geometry_type_check("geom", "POINT", "MULTIPOLYGON"),)


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
    landmarks: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
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
    area_ha: Mapped[float] = mapped_column(Float, area_ha_column(), nullable=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)


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
    area_ha: Mapped[float] = mapped_column(Float, area_ha_column())
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False)
    __table_args__ = (
        CheckConstraint("status IN ('new', 'verified', 'false_alarm')", name="change_status_known"),
        CheckConstraint("change_type IN ('loss', 'gain')", name="change_type_known"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="change_confidence_range"),
        CheckConstraint("after_date >= before_date", name="change_dates_ordered"),
    )
