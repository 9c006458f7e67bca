"""The declarative base of the PostGIS schema and what its tables share: storage and area CRS,
column helpers.

Storage CRS is EPSG:4326 (lon/lat) everywhere; areas are computed by the database in
the province's own projection, VN-2000 / TM-3 107°15′ (EPSG:9215).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Computed, text
from sqlalchemy.orm import DeclarativeBase

STORAGE_SRID = 4326
#: VN-2000 / TM-3 107°15′, the province's projection, used for areas.
AREA_SRID = 9215

#: The server default of the text-array columns: an empty array.
EMPTY_TEXT_ARRAY = text("'{}'::text[]")


def geometry_type_check(column: str, *types: str) -> CheckConstraint:
    """A check that the geometries of ``column`` are of one of ``types``."""
    allowed = ", ".join(f"'{t}'" for t in types)
    return CheckConstraint(
        f"GeometryType({column}) IN ({allowed})", name=f"{column}_type"
    )


def area_ha_column(column: str = "geom") -> Computed:
    """A generated column: the area of ``column`` in hectares, computed in the province's projection."""
    return Computed(f"round((ST_Area(ST_Transform({column}, {AREA_SRID})) / 10000.0)::numeric, 4)", persisted=True)


class Base(DeclarativeBase):
    """The base of every table; ``Base.metadata`` is the schema the Alembic migrations build."""
