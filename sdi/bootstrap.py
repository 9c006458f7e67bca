"""Bring the platform up: database (embedded or external), schema, catalogue, bundled data."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, func, select

from layers.catalog import read_specs, sync_catalog
from layers.quality import ValidationReport
from rasters.collections import sync_collections
from sdi import migrate
from sdi.cluster import Cluster
from sdi.database import make_engine, translate_db_errors
from sdi.settings import Settings

logger = logging.getLogger(__name__)

#: The advisory lock of the start-up (above the ingest's 48-bit keys): replicas, or ``sdi up`` and
#: ``sdi serve``, starting at once on one database migrate and load one after the other.
SETUP_LOCK = (1 << 62) | 1


@contextmanager
def setup_lock(engine: Engine) -> Iterator[None]:
    """Hold the start-up's advisory lock for the block (waiting for whoever holds it)."""
    with engine.connect() as conn:
        conn.execute(select(func.pg_advisory_lock(SETUP_LOCK)))
        conn.commit()
        try:
            yield
        finally:
            conn.execute(select(func.pg_advisory_unlock(SETUP_LOCK)))
            conn.commit()


def prepare_database(settings: Settings) -> Engine:
    """Start the embedded cluster if used, migrate, and write the catalogue; idempotent, and safe when
    several processes do it at once (they take turns)."""
    if settings.embedded:
        Cluster(settings).ensure_running()
    engine = make_engine(settings)
    with translate_db_errors(), setup_lock(engine):
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
    with setup_lock(engine):  # replicas running ``sdi up`` at once load the bundled data one at a time
        return engine, seed_bundled(engine, settings, force=force)
