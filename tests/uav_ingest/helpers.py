"""Helpers for raster tests: the state of store + catalogue, the real ``sdi`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, text

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
