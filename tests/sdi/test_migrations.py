"""The Alembic migrations build exactly the schema of the models, and can be undone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, text

from sdi import migrate
from sdi.cluster import create_database, drop_database
from sdi.models import Base


def _include(obj, name, type_, reflected, compare_to):  # same filter as sdi/migrations/env.py
    if type_ == "table" and name == "spatial_ref_sys":
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def test_models_and_migrations_agree(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _include, "compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_downgrade_upgrade(settings):
    if os.environ.get("SDI_TEST_DATABASE_URL"):
        pytest.skip("needs a server where the tests may create databases")
    server = settings.database_url.rsplit("/", 1)[0]
    name = f"sdi_migrations_{os.getpid()}"
    create_database(f"{server}/postgres", name)
    scratch = create_engine(f"{server}/{name}")
    try:
        migrate.upgrade(scratch)
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(migrate.alembic_config(str(scratch.url))).get_current_head()
        assert migrate.current(scratch) == head
        with scratch.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM spatial_ref_sys WHERE srid = 9215")).scalar_one() == 1
        migrate.downgrade(scratch, "base")
        assert set(inspect(scratch).get_table_names()) <= {"spatial_ref_sys", "alembic_version"}
        migrate.upgrade(scratch)
        assert {"forest_plots", "api_keys", "raster_items"} <= set(inspect(scratch).get_table_names())
    finally:
        scratch.dispose()
        drop_database(f"{server}/postgres", name)


def test_replicas_starting_at_once_migrate_one_after_the_other(settings):
    """Two processes preparing one new database at the same moment (replicas starting together) take
    turns on the start-up's advisory lock: both succeed, the schema is migrated once, to the head."""
    if os.environ.get("SDI_TEST_DATABASE_URL"):
        pytest.skip("needs a server where the tests may create databases")
    server = settings.database_url.rsplit("/", 1)[0]
    name = f"sdi_race_{os.getpid()}"
    create_database(f"{server}/postgres", name)
    code = "from sdi.bootstrap import prepare_database; from sdi.settings import Settings; prepare_database(Settings())"
    env = {**os.environ, "SDI_DATABASE_URL": f"{server}/{name}"}
    try:
        procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        errors = [p.communicate(timeout=300)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errors
        scratch = create_engine(f"{server}/{name}")
        try:
            from alembic.script import ScriptDirectory

            head = ScriptDirectory.from_config(migrate.alembic_config(str(scratch.url))).get_current_head()
            assert migrate.current(scratch) == head
            with scratch.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM layers")).scalar_one() > 0
        finally:
            scratch.dispose()
    finally:
        drop_database(f"{server}/postgres", name)
