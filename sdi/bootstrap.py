"""Bring the platform up: database (embedded or external), schema, catalogue, bundled data."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from layers.catalog import read_specs, sync_catalog
from layers.quality import ValidationReport
from rasters.collections import sync_collections
from sdi import migrate
from sdi.cluster import Cluster
from sdi.database import make_engine, translate_db_errors
from sdi.settings import Settings

logger = logging.getLogger(__name__)


def prepare_database(settings: Settings) -> Engine:
    """Start the embedded cluster if used, migrate, and write the catalogue; idempotent."""
    if settings.embedded:
        Cluster(settings).ensure_running()
    engine = make_engine(settings)
    with translate_db_errors():
        migrate.upgrade(engine)
        with engine.begin() as conn:
            sync_catalog(conn, read_specs())
            sync_collections(conn)
    return engine


def bring_up(settings: Settings, *, force: bool = False) -> tuple[Engine, dict[str, ValidationReport | None]]:
    """Everything ``sdi up`` does: database ready and bundled data loaded."""
    # lazy: geopandas and the bundled-data builders, not needed by commands that only prepare the database
    from layers.bundled import seed_bundled

    engine = prepare_database(settings)
    return engine, seed_bundled(engine, settings, force=force)
