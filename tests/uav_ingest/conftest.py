"""Fixtures for raster ingest: a store folder per test, the state of store + catalogue, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from sdi.settings import Settings


@pytest.fixture()
def store_dir(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    path.mkdir()
    return path


@pytest.fixture()
def ingest_settings(settings: Settings, store_dir: Path) -> Settings:
    return settings.model_copy(update={"raster_store": str(store_dir)})


@pytest.fixture()
def own_rows(engine: Engine):  # type: ignore[no-untyped-def]
    """Rows this test adds to raster_items are removed afterwards (the database is per session)."""
    before = _ids(engine)
    yield
    added = _ids(engine) - before
    if added:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM raster_items WHERE id = ANY(:ids)").bindparams(ids=list(added)))


def _ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT id FROM raster_items")).scalars())
