"""A whole installation to back up and a fresh one to restore into, each a database of its own in the
test cluster (or the server of ``SDI_TEST_DATABASE_URL``) with a store folder of its own.

The source has the bundled layers, three ingested rasters (a UAV RGB flight of the internal ``uav_rgb``
collection, a DEM and a multispectral flight) and an API key; a real ``sdi serve`` runs on it while
``sdi backup`` (the real command) backs it up.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, literal_column, select, table
from sqlalchemy.engine import make_url

from layers.bundled import seed_bundled
from ops import postgres
from sdi.access import add_key
from sdi.bootstrap import prepare_database
from sdi.cluster import create_database, drop_database
from sdi.database import make_engine
from sdi.settings import Settings
from tests.conftest import LiveServer, start_server, stop_server
from tests.uav_ingest import rasters
from tests.uav_ingest.helpers import run_sdi
from uav_ingest.ingest import ingest_file, parse_when

RUN = os.getpid()


@dataclass
class Installation:
    settings: Settings
    engine: Engine
    store: Path


@dataclass
class Source(Installation):
    key: str
    items: list[str]
    tables: dict[str, tuple[int, str]]  # checksums at backup time
    server: LiveServer
    backup: Path


def admin_url(settings: Settings) -> str:
    assert settings.database_url is not None
    return make_url(settings.database_url).set(database="postgres").render_as_string(hide_password=False)


def database_of(settings: Settings, name: str) -> str:
    assert settings.database_url is not None
    return make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def new_installation(settings: Settings, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A factory of empty installations (a new database, a new store folder), dropped at the end."""
    made: list[tuple[str, Engine]] = []

    def make(label: str) -> Installation:
        name = f"sdi_ops_{label}_{RUN}"
        drop_database(admin_url(settings), name)
        create_database(admin_url(settings), name)
        store = tmp_path_factory.mktemp(f"store-{label}")
        s = settings.model_copy(update={"database_url": database_of(settings, name), "raster_store": str(store)})
        engine = make_engine(s)
        made.append((name, engine))
        return Installation(s, engine, store)

    yield make
    for name, engine in made:
        engine.dispose()
        drop_database(admin_url(settings), name)


def checksums(engine: Engine) -> dict[str, tuple[int, str]]:
    """Every table of ours: row count and SHA-256 of its rows as text, ordered."""
    out = {}
    with engine.connect() as conn:
        for schema, name in postgres.user_tables(conn):
            t = table(name, schema=schema).alias("t")
            row = literal_column("t::text")
            rows = conn.execute(select(row).select_from(t).order_by(row)).scalars().all()
            out[f"{schema}.{name}"] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


@pytest.fixture(scope="session")
def source(new_installation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:  # type: ignore[no-untyped-def]
    inst = new_installation("src")
    prepare_database(inst.settings)
    seed_bundled(inst.engine, inst.settings)
    key = add_key(inst.engine, f"ops-ranger-{RUN}", "kiemlam", "agency")
    work = tmp_path_factory.mktemp("ops-rasters")
    files = [("uav_rgb", rasters.uav_rgb(work / "flight.tif", width=500, height=400, seed=41)),
             ("dem", rasters.dem(work / "dem.tif", width=300, height=250)),
             ("uav_multispectral", rasters.multispectral(work / "ms.tif", width=300, height=240))]
    items = []
    for collection, path in files:
        result = ingest_file(path, collection_id=collection, when=parse_when("2026-03-15T09:30"),
                             engine=inst.engine, settings=inst.settings)
        assert result.status == "ingested", result.message
        items.append(str(result.item_id))
    server = start_server(inst.settings)
    try:
        tables = checksums(inst.engine)
        folder = tmp_path_factory.mktemp("backups") / "sdi-backup"
        result = run_sdi(inst.settings, "backup", str(folder), SDI_RASTER_STORE=str(inst.store))
        assert result.returncode == 0, result.stdout + result.stderr
        yield Source(inst.settings, inst.engine, inst.store, key, items, tables, server, folder)
    finally:
        stop_server(server)
