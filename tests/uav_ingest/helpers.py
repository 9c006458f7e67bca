"""Helpers for raster tests: the state of store + catalogue, the real ``sdi`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, delete, text
from sqlalchemy.orm import Session

from sdi.models import RasterCollection, RasterItem
from sdi.settings import PROJECT_ROOT, Settings


def state(engine: Engine, store: Path) -> tuple[list[str], list[tuple]]:
    """Every file under the store (tmp area included) and every raster_items row."""
    files = sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file())
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, href, source_sha256 FROM raster_items ORDER BY id")).all()
    return files, [tuple(r) for r in rows]


def run_sdi(settings: Settings, *args: str, timeout: float = 180, python: list[str] | None = None,
            **env: str) -> subprocess.CompletedProcess:
    """The real ``sdi`` command in a subprocess, against the test database and ``SDI_*`` overrides."""
    full_env = {**os.environ, "SDI_DATABASE_URL": settings.database_url, "SDI_LOG_LEVEL": "WARNING",
                "COLUMNS": "200", **env}
    cmd = python or [sys.executable, "-m", "sdi.cli"]
    return subprocess.run([*cmd, *args], env=full_env, capture_output=True, text=True, timeout=timeout,
                          cwd=PROJECT_ROOT)


@contextmanager
def own_collection(engine: Engine, collection_id: str, title: str) -> Iterator[str]:
    """A public rgb collection (like ``uav_rgb``) of some tests only, so ``--repair -c`` touches
    nothing else; removed with its items afterwards."""
    with Session(engine) as session:
        session.merge(RasterCollection(id=collection_id, title_vi=f"Ảnh UAV thử nghiệm ({title})",
                                       title_en=f"Test UAV rasters ({title})", description_vi="Ảnh thử nghiệm",
                                       description_en="Test rasters", keywords=["test"], owner="kiemlam",
                                       licence="CC-BY-4.0", access_level="public", kind="rgb"))
        session.commit()
    try:
        yield collection_id
    finally:
        with Session(engine) as session:
            session.execute(delete(RasterItem).where(RasterItem.collection_id == collection_id))
            session.execute(delete(RasterCollection).where(RasterCollection.id == collection_id))
            session.commit()
