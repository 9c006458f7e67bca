"""Crash safety: ``sdi layers load``, ``sdi ingest`` and ``sdi change detect`` killed with SIGKILL at random
moments, ten times each. Afterwards no layer is half-loaded (its rows are exactly those before or those
after), no table is left behind, no catalogue row lacks its file and, after ``sdi ingest --repair``, no
stray file or work folder remains; the next run succeeds.

The kills are real (``SIGKILL`` to the ``sdi`` process: no handler, no ``finally``, the database connection
drops); the moments are drawn uniformly over the command's own duration, measured by a first full run, so
they fall in start-up, reading, validation, conversion, the write and the commit. The seed is printed: a
failure can be replayed with ``SDI_CRASH_SEED``. Builds on ``tests/uav_ingest/test_atomic.py`` (a crash at
the two chosen points of the registration); here the points are anywhere.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pytest
from sqlalchemy import func, select, table, text

from change.synthetic import synthetic_pair
from layers.catalog import get_layer, load_catalog
from layers.export import export_layer
from ops import postgres
from rasters.store import open_store
from sdi.settings import PROJECT_ROOT
from tests.ops.conftest import RUN, checksums
from tests.uav_ingest import rasters
from tests.uav_ingest.helpers import own_collection, run_sdi
from uav_ingest.ingest import ingest_file, parse_when
from uav_ingest.repair import repair

pytestmark = pytest.mark.slow
KILLS = 10
SEED = int(os.environ.get("SDI_CRASH_SEED", time.time_ns() % 100_000))
COLLECTION = f"crash_test_rgb_{RUN}"


@pytest.fixture(scope="module")
def rng() -> random.Random:
    print(f"SDI_CRASH_SEED={SEED}")
    return random.Random(SEED)


def _env(settings, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**os.environ, "SDI_DATABASE_URL": settings.database_url, "SDI_LOG_LEVEL": "WARNING",
            "COLUMNS": "200", **extra}


def timed(settings, *args: str, **env: str) -> float:  # type: ignore[no-untyped-def]
    """A full run (it must succeed); its duration, to draw the kill moments over."""
    started = time.monotonic()
    result = run_sdi(settings, *args, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    return time.monotonic() - started


def kill_after(settings, delay: float, *args: str, **env: str) -> bool:  # type: ignore[no-untyped-def]
    """Start ``sdi ARGS`` and SIGKILL it after ``delay`` seconds; False if it had already finished."""
    proc = subprocess.Popen([sys.executable, "-m", "sdi.cli", *args], env=_env(settings, **env), cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return True


def _tables(engine) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return postgres.user_tables(conn)


def _rows(engine, table: str) -> str:  # type: ignore[no-untyped-def]
    return checksums(engine)[f"public.{table}"][1]


def test_a_killed_load_leaves_the_layer_before_or_after(source, rng, tmp_path):
    s, engine = source.settings, source.engine
    layer = get_layer(load_catalog(engine), "forest_plots")
    full = tmp_path / "plots_all.gpkg"
    assert export_layer(engine, layer, full) > 1000
    part = tmp_path / "plots_part.gpkg"
    keep = _count(engine, "forest_plots") * 3 // 4  # a smaller version of the layer, as a file
    gpd.read_file(full).iloc[:keep].to_file(part, driver="GPKG")

    def load(path: Path) -> tuple[str, ...]:
        return ("layers", "load", "forest_plots", str(path), "--if-exists", "replace")

    states = {}
    tables = _tables(engine)
    duration = timed(s, *load(part))
    states[part] = _rows(engine, "forest_plots")
    timed(s, *load(full))
    states[full] = _rows(engine, "forest_plots")
    assert states[part] != states[full]
    current, killed = full, 0
    runs = 0
    while killed < KILLS:
        runs += 1
        assert runs <= 3 * KILLS, f"only {killed} of {runs} runs were killed before they finished"
        target = part if current == full else full
        loads = _count(engine, "layer_loads")
        killed += kill_after(s, rng.uniform(0.2, duration), *load(target))
        now = _rows(engine, "forest_plots")
        assert now in (states[current], states[target]), "half-loaded layer"
        changed = now == states[target]
        assert _count(engine, "layer_loads") - loads == int(changed), "a load logged without its rows, or the reverse"
        current = target if changed else current
        assert _tables(engine) == tables, "stray table"
    print(f"layers load: {killed} of {runs} runs killed")
    timed(s, *load(full))  # the next run succeeds
    assert _rows(engine, "forest_plots") == states[full]


def _count(engine, name: str) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())


def _consistent(engine, store: Path) -> None:  # type: ignore[no-untyped-def]
    """Every row of the collection ready with its file (checksum as recorded), every file named by a row,
    no work file."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT href, status, cog_sha256 FROM raster_items WHERE collection_id = :c")
                            .bindparams(c=COLLECTION)).all()
    files = sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file())
    work = sorted(p.name for p in (store / ".tmp").iterdir()) if (store / ".tmp").is_dir() else []
    assert work == [], f"work files or folders left: {work}"
    assert sorted(f for f in files) == sorted(r.href for r in rows), "file without row or row without file"
    for href, status, sha in rows:
        assert status == "ready" and hashlib.sha256((store / href).read_bytes()).hexdigest() == sha


@pytest.fixture(scope="module")
def crash_collection(source):  # type: ignore[no-untyped-def]
    with own_collection(source.engine, COLLECTION, "crash") as collection:
        yield collection


def test_a_killed_ingest_is_repaired_and_the_next_run_succeeds(source, crash_collection, rng, tmp_path):
    s, engine = source.settings, source.engine
    store = tmp_path / "store"
    env = {"SDI_RASTER_STORE": str(store)}
    store_settings = s.model_copy(update={"raster_store": str(store)})
    tables = _tables(engine)
    duration = timed(s, "ingest", str(rasters.uav_rgb(tmp_path / "first.tif", width=700, height=500, seed=99)),
                     "-c", COLLECTION, "-t", "2026-03-15", **env)
    files: list[Path] = []
    killed = 0
    while killed < KILLS:  # a new file each time; a run that finished before its kill is a plain ingest
        assert len(files) < 3 * KILLS, f"only {killed} of {len(files)} runs were killed before they finished"
        files.append(rasters.uav_rgb(tmp_path / f"flight{len(files)}.tif", width=700, height=500,
                                     seed=100 + len(files)))
        killed += kill_after(s, rng.uniform(0.2, duration), "ingest", str(files[-1]), "-c", COLLECTION,
                             "-t", "2026-03-15", **env)
        if killed < KILLS:
            # what `sdi ingest --repair -c COLLECTION` runs (in-process: fewer start-ups); after the last
            # kill, the command itself
            repair(engine, open_store(store_settings), [COLLECTION])
        else:
            fixed = run_sdi(s, "ingest", "--repair", "-c", COLLECTION, **env)
            assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        _consistent(engine, store)
        assert _tables(engine) == tables, "stray table"
    print(f"ingest: {killed} of {len(files)} runs killed")
    again = run_sdi(s, "ingest", *map(str, files), "-c", COLLECTION, "-t", "2026-03-15", **env)  # the next run
    assert again.returncode == 0, again.stdout + again.stderr
    _consistent(engine, store)
    assert _count_items(engine) == len(files) + 1


def _count_items(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM raster_items WHERE collection_id = :c AND status = 'ready'")
                            .bindparams(c=COLLECTION)).scalar_one()


def test_a_killed_change_detection_leaves_the_events_before_or_after(source, crash_collection, rng, tmp_path):
    s, engine = source.settings, source.engine
    store = tmp_path / "store"
    pair = synthetic_pair(tmp_path, 7, "uav", size=600, cloud=False)
    ingest_settings = s.model_copy(update={"raster_store": str(store)})
    ids = [ingest_file(path, collection_id="uav_rgb", when=parse_when(when), engine=engine,
                       settings=ingest_settings).item_id for path, when in ((pair.before, "2026-01-10"),
                                                                            (pair.after, "2026-03-12"))]
    env = {"SDI_RASTER_STORE": str(store)}

    def detect(threshold: str) -> tuple[str, ...]:
        return ("change", "detect", "--before", str(ids[0]), "--after", str(ids[1]), "--threshold", threshold,
                "--mmu-ha", f"{pair.mmu_ha:.6f}")

    def events() -> frozenset[str]:
        with engine.connect() as conn:
            return frozenset(conn.execute(text("SELECT event_id FROM change_events WHERE after_item = :a")
                                          .bindparams(a=ids[1])).scalars())

    tables = _tables(engine)
    states = {}
    duration = timed(s, *detect("0.5"), **env)
    states["0.5"] = (events(), _count(engine, "change_events"))
    timed(s, *detect("0.15"), **env)
    states["0.15"] = (events(), _count(engine, "change_events"))
    assert states["0.5"] != states["0.15"] and states["0.15"][0], states
    current, killed = "0.15", 0
    runs = 0
    while killed < KILLS:
        runs += 1
        assert runs <= 3 * KILLS, f"only {killed} of {runs} runs were killed before they finished"
        target = "0.5" if current == "0.15" else "0.15"
        killed += kill_after(s, rng.uniform(0.2, duration), *detect(target), **env)
        now = (events(), _count(engine, "change_events"))
        assert now in (states[current], states[target]), "half-written change events"
        current = target if now == states[target] else current
        assert _tables(engine) == tables, "stray table"
    print(f"change detect: {killed} of {runs} runs killed")
    timed(s, *detect("0.15"), **env)
    assert (events(), _count(engine, "change_events")) == states["0.15"]
