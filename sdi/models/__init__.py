"""The PostGIS schema (SQLAlchemy 2 + GeoAlchemy2). Alembic migrations create it.

Storage CRS is EPSG:4326 (lon/lat) everywhere; areas are computed by the database in
the province's own projection, VN-2000 / TM-3 107°15′ (EPSG:9215).

By domain: ``base`` (the declarative base, CRS, column helpers), ``catalogue`` (layers, their
loads, raster collections and items), ``vector`` (the tables served as layers), ``harvest``
(harvested services), ``keys`` (API keys, the access log), ``shared`` (OGC process jobs, rendered
change reports: what replicas share).
Importing this package registers every table on ``Base.metadata``.
"""

from sdi.models.base import AREA_SRID, STORAGE_SRID, Base
from sdi.models.catalogue import (
    ACCESS_LEVELS,
    LayerRecord,
    LayerTrash,
    LoadRecord,
    RasterCollection,
    RasterItem,
)
from sdi.models.harvest import HarvestSource
from sdi.models.keys import ROLES, AccessLogEntry, ApiKey
from sdi.models.shared import CachedReport, ProcessJob, RateLimitWindow
from sdi.models.vector import (
    AdminUnit,
    BorderBelt,
    BorderGate,
    BorderLine,
    ChangeEvent,
    ForestPlot,
    IndustrialPark,
    PilotSite,
    PointOfInterest,
    Problem,
    River,
    TransportLine,
)

__all__ = [
    "ACCESS_LEVELS", "AREA_SRID", "ROLES", "STORAGE_SRID",
    "AccessLogEntry", "AdminUnit", "ApiKey", "Base", "BorderBelt", "BorderGate", "BorderLine", "CachedReport",
    "ChangeEvent", "ForestPlot", "HarvestSource", "IndustrialPark", "LayerRecord", "LayerTrash", "LoadRecord",
    "PilotSite", "PointOfInterest", "Problem", "ProcessJob", "RateLimitWindow",
    "RasterCollection", "RasterItem", "River", "TransportLine",
]
