"""Data-quality checks and the validation report: correct, complete, clean, current
(đúng – đủ – sạch – sống, the province's words for good data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

import numpy as np
import shapely
from pydantic import BaseModel, Field

Dimension = Literal["correct", "complete", "clean", "current"]
Severity = Literal["error", "warning", "note"]

DIMENSION_VI = {"correct": "đúng", "complete": "đủ", "clean": "sạch", "current": "sống"}
_MAX_EXAMPLES = 10


class Issue(BaseModel):
    """One kind of problem, with how many features have it and the first few rows."""

    dimension: Dimension
    severity: Severity
    code: str
    message: str
    count: int = 0
    rows: list[int] = []
    keys: list[str] = []


class Counts(BaseModel):
    read: int = 0
    repaired: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0


class ValidationReport(BaseModel):
    """What a load (or a dry run) found, feature by feature."""

    layer: str
    source: str
    driver: str | None = None
    source_crs: str | None = None
    mode: str = "upsert"
    dry_run: bool = False
    committed: bool = False
    started_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime | None = None
    counts: Counts = Field(default_factory=Counts)
    issues: list[Issue] = []

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)

    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    def add(self, dimension: Dimension, severity: Severity, code: str, message: str,
            rows: Sequence[int] | np.ndarray = (), keys: Sequence[str] | np.ndarray = (),
            count: int | None = None) -> None:
        """Record ``count`` occurrences (default: ``len(rows)``), merging by code."""
        n = count if count is not None else max(len(rows), 1)
        rows = [int(r) for r in list(rows)[:_MAX_EXAMPLES]]
        keys = [str(k) for k in list(keys)[:_MAX_EXAMPLES]]
        for issue in self.issues:
            if issue.code == code:
                issue.count += n
                issue.rows = (issue.rows + rows)[:_MAX_EXAMPLES]
                issue.keys = (issue.keys + keys)[:_MAX_EXAMPLES]
                return
        self.issues.append(Issue(dimension=dimension, severity=severity, code=code,
                                 message=message, count=n, rows=rows, keys=keys))

    def summary(self) -> str:
        """One paragraph for logs and error messages."""
        c = self.counts
        head = (f"{self.layer} ← {self.source}: read {c.read}, inserted {c.inserted}, "
                f"updated {c.updated}, repaired {c.repaired}, rejected {c.rejected}")
        errors = "; ".join(f"{i.code} ×{i.count} ({i.message})" for i in self.errors())
        return head + (f". Errors: {errors}" if errors else "")


_MULTI = {"Polygon": "MultiPolygon", "LineString": "MultiLineString"}
_TYPE_NAMES = {"POINT": "Point", "MULTIPOLYGON": "MultiPolygon", "MULTILINESTRING": "MultiLineString"}
_GEOS_NAMES = ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
               "MultiPolygon", "GeometryCollection"]
_FAMILY = {"MultiPolygon": (shapely.Polygon, shapely.MultiPolygon),
           "MultiLineString": (shapely.LineString, shapely.MultiLineString)}


def fix_geometries(geoms: np.ndarray, allowed: list[str], rows: np.ndarray,
                   report: ValidationReport) -> tuple[np.ndarray, np.ndarray]:
    """Repair what can be repaired, promote to the stored type, flag the rest.

    Returns:
        The cleaned geometries and a boolean mask of rejected features.
    """
    allowed_types = {_TYPE_NAMES[t] for t in allowed}
    rejected = np.zeros(len(geoms), dtype=bool)
    missing = shapely.is_missing(geoms)
    if missing.any():
        report.add("complete", "error", "missing_geometry",
                   "Đối tượng không có hình học / feature has no geometry", rows[missing])
    empty = ~missing & shapely.is_empty(geoms)
    if empty.any():
        report.add("correct", "error", "empty_geometry",
                   "Hình học rỗng / empty geometry", rows[empty])
    rejected |= missing | empty
    geoms = shapely.force_2d(geoms)
    invalid = ~rejected & ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        report.counts.repaired += int(invalid.sum())
        report.add("correct", "note", "geometry_repaired",
                   "Hình học không hợp lệ đã được sửa (make_valid) / invalid geometry repaired",
                   rows[invalid], count=int(invalid.sum()))
    kinds = np.array(_GEOS_NAMES)[np.maximum(shapely.get_type_id(geoms), 0)]
    for single, multi in _MULTI.items():  # promote Polygon → MultiPolygon etc., vectorised
        promote = ~rejected & (kinds == single) & (multi in allowed_types)
        if promote.any():
            make = shapely.multipolygons if multi == "MultiPolygon" else shapely.multilinestrings
            geoms[promote] = make(geoms[promote], indices=np.arange(int(promote.sum())))
            kinds[promote] = multi
    for index in np.flatnonzero(~rejected & (kinds == "GeometryCollection")):
        geoms[index], kinds[index] = _collection_part(geoms[index], allowed_types)
    wrong = ~rejected & (~np.isin(kinds, list(allowed_types)) | shapely.is_empty(geoms))
    if wrong.any():
        report.add("correct", "error", "wrong_geometry_type",
                   f"Sai kiểu hình học / geometry type not allowed: expected "
                   f"{' or '.join(sorted(allowed_types))}, found "
                   f"{', '.join(sorted(set(kinds[wrong])))}", rows[wrong], count=int(wrong.sum()))
    return geoms, rejected | wrong


def _collection_part(geom: shapely.Geometry, allowed: set[str]) -> tuple[shapely.Geometry, str]:
    for target, family in _FAMILY.items():
        if target in allowed:
            parts = [g for g in shapely.get_parts(geom) if isinstance(g, family)]
            if parts:
                return _promote(shapely.union_all(parts), target), target
    return geom, "GeometryCollection"


def _promote(geom: shapely.Geometry, target: str) -> shapely.Geometry:
    if target == "MultiPolygon" and isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    if target == "MultiLineString" and isinstance(geom, shapely.LineString):
        return shapely.MultiLineString([geom])
    return geom


def check_inside(geoms: np.ndarray, keep: np.ndarray, area: shapely.Geometry,
                 rows: np.ndarray, report: ValidationReport) -> np.ndarray:
    """Reject features not inside ``area`` (the province plus tolerance); spot swapped axes."""
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return keep
    shapely.prepare(area)
    inside = shapely.contains(area, geoms[idx])
    outside = idx[~inside]
    if outside.size:
        swapped = shapely.transform(geoms[outside], lambda xy: xy[:, ::-1])
        looks_swapped = shapely.contains(area, swapped)
        if looks_swapped.any():
            report.add("correct", "error", "coordinates_swapped",
                       "Tọa độ bị đảo (vĩ độ, kinh độ) / coordinates look swapped (lat, lon): "
                       "swapping them puts the feature inside Lạng Sơn",
                       rows[outside[looks_swapped]], count=int(looks_swapped.sum()))
        rest = outside[~looks_swapped]
        if rest.size:
            report.add("correct", "error", "outside_province",
                       "Nằm ngoài tỉnh Lạng Sơn / feature lies outside Lạng Sơn province",
                       rows[rest], count=int(rest.size))
        keep = keep.copy()
        keep[outside] = False
    return keep
