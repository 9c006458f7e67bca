"""Atomic registration: a process killed between the ``pending`` row and the file move (or between
the move and ``ready``) leaves nothing that a re-run or ``sdi ingest --repair`` does not resolve.

The crash is real: the ``sdi`` command runs in a subprocess whose ``uav_ingest.ingest.place``
is wrapped to call ``os._exit`` (no ``finally``, no roll-back, the database connection drops).
The tests ingest into a collection of their own (``COLLECTION``, kind rgb like ``uav_rgb``) and
scope repairs to it (``--repair -c``): the session database also holds other tests' items, whose
files live in other stores (and a repair rightly refuses a store that has none of its items' files).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.uav_ingest import rasters
from tests.uav_ingest.helpers import own_collection, run_sdi, state
from uav_ingest.ingest import ingest_file, parse_when

pytestmark = pytest.mark.usefixtures("own_rows", "atomic_collection")
COLLECTION = "atomic_test_rgb"


@pytest.fixture(scope="module")
def atomic_collection(engine):
    with own_collection(engine, COLLECTION, "atomic") as collection:
        yield collection


@pytest.fixture()
def earlier(engine) -> set[str]:
    """Rows other tests left in the session's database: not this store's business."""
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT id FROM raster_items")).scalars())

CRASHING_SDI = """
import os, sys
import uav_ingest.ingest as ingest
real_place = ingest.place
def place(store, tmp, key, steps):
    if os.environ["CRASH_AT"] == "after_move":
        real_place(store, tmp, key, steps)
    os._exit(137)  # killed: nothing runs after this
ingest.place = place
from sdi.cli import run
sys.argv = ["sdi", *sys.argv[1:]]
run()
"""


def _crash(settings, store: Path, src: Path, at: str):
    result = run_sdi(settings, "ingest", str(src), "-c", COLLECTION, "-t", "2026-03-15",
                     python=[sys.executable, "-c", CRASHING_SDI], SDI_RASTER_STORE=str(store), CRASH_AT=at)
    assert result.returncode == 137, result.stderr
    return result


def _rows_for(engine, src: Path) -> list[tuple]:
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    with engine.connect() as conn:
        return conn.execute(text("SELECT id, status, href, cog_sha256 FROM raster_items WHERE source_sha256 = :s")
                            .bindparams(s=sha)).all()


def assert_consistent(engine, store: Path, earlier: set[str]) -> None:
    """Every row ready with its file (checksum as recorded); every file named by a row; no work files."""
    files, rows = state(engine, store)
    with engine.connect() as conn:
        recorded = dict(conn.execute(text("SELECT href, cog_sha256 FROM raster_items")).all())
    stored = [f for f in files if not f.startswith(".tmp/")]
    assert not [f for f in files if f.startswith(".tmp/")], files
    for key in stored:
        assert key in recorded, f"file without row: {key}"
        assert hashlib.sha256((store / key).read_bytes()).hexdigest() == recorded[key]
    for item_id, status, href, _ in rows:
        if item_id not in earlier:
            assert status == "ready" and (store / href).is_file(), f"row without file: {href}"


def test_crash_before_the_move_then_rerun_resumes(earlier, engine, settings, store_dir, tmp_path):
    src = rasters.uav_rgb(tmp_path / "crash1.tif", width=700, height=500, seed=31)
    _crash(settings, store_dir, src, "before_move")
    (row,) = _rows_for(engine, src)
    assert row.status == "pending" and not (store_dir / row.href).exists()  # the state the crash left
    assert list((store_dir / ".tmp").glob("ingest-*/cog.tif"))  # the work copy survived
    result = run_sdi(settings, "ingest", str(src), "-c", COLLECTION, "-t", "2026-03-15",
                     SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 0 and "resumed" in result.stdout, result.stdout + result.stderr
    assert [r.status for r in _rows_for(engine, src)] == ["ready"]
    assert_consistent(engine, store_dir, earlier)


def test_crash_before_the_move_then_repair(earlier, engine, settings, store_dir, tmp_path):
    src = rasters.uav_rgb(tmp_path / "crash2.tif", width=700, height=500, seed=32)
    _crash(settings, store_dir, src, "before_move")
    result = run_sdi(settings, "ingest", "--repair", "-c", COLLECTION, SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 0, result.stderr
    (row,) = _rows_for(engine, src)
    assert "resumed" in result.stdout and row.id in result.stdout and row.status == "ready"
    assert_consistent(engine, store_dir, earlier)


def test_crash_with_the_work_copy_lost_is_rolled_back(earlier, engine, settings, store_dir, tmp_path):
    src = rasters.uav_rgb(tmp_path / "crash3.tif", width=700, height=500, seed=33)
    _crash(settings, store_dir, src, "before_move")
    for work in (store_dir / ".tmp").glob("ingest-*/cog.tif"):
        work.unlink()  # e.g. the work area was on a disk that was wiped
    result = run_sdi(settings, "ingest", "--repair", "-c", COLLECTION, SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 0 and "rolled_back" in result.stdout
    assert _rows_for(engine, src) == []
    assert_consistent(engine, store_dir, earlier)
    # the file can then be ingested normally
    again = run_sdi(settings, "ingest", str(src), "-c", COLLECTION, "-t", "2026-03-15",
                    SDI_RASTER_STORE=str(store_dir))
    assert again.returncode == 0 and "ingested" in again.stdout
    assert_consistent(engine, store_dir, earlier)


def test_crash_after_the_move_then_repair_completes(earlier, engine, settings, store_dir, tmp_path):
    src = rasters.uav_rgb(tmp_path / "crash4.tif", width=700, height=500, seed=34)
    _crash(settings, store_dir, src, "after_move")
    (row,) = _rows_for(engine, src)
    assert row.status == "pending" and (store_dir / row.href).is_file()
    result = run_sdi(settings, "ingest", "--repair", "-c", COLLECTION, SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 0 and "completed" in result.stdout
    assert [r.status for r in _rows_for(engine, src)] == ["ready"]
    assert_consistent(engine, store_dir, earlier)


def test_repair_removes_orphan_files_and_rows_without_files(earlier, engine, ingest_settings, settings, store_dir,
                                                            tmp_path):
    kept = ingest_file(rasters.uav_rgb(tmp_path / "kept.tif", width=500, height=400, seed=35),
                       collection_id=COLLECTION, when=parse_when("2026-03-15"), engine=engine,
                       settings=ingest_settings)
    lost = ingest_file(rasters.uav_rgb(tmp_path / "lost.tif", width=500, height=400, seed=36),
                       collection_id=COLLECTION, when=parse_when("2026-03-15"), engine=engine,
                       settings=ingest_settings)
    (store_dir / f"{COLLECTION}/{lost.item_id}.tif").unlink()  # someone deleted a file
    (store_dir / f"{COLLECTION}/stray.tif").write_bytes(b"II*\x00 left by hand")  # a file nobody registered
    result = run_sdi(settings, "ingest", "--repair", "-c", COLLECTION, SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 0
    assert f"{COLLECTION}/stray.tif" in result.stdout and lost.item_id in result.stdout
    with engine.connect() as conn:
        ids = set(conn.execute(text("SELECT id FROM raster_items")).scalars())
    assert kept.item_id in ids and lost.item_id not in ids
    assert_consistent(engine, store_dir, earlier)


def test_repair_leaves_a_live_ingest_alone(earlier, engine, ingest_settings, store_dir, tmp_path):
    """While an ingest holds its file's lock, its pending row and work folder are not touched."""
    from rasters.store import open_store
    from uav_ingest.registry import advisory_lock, lock_key
    from uav_ingest.repair import repair

    src = rasters.uav_rgb(tmp_path / "live.tif", width=500, height=400, seed=37)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    work = store_dir / ".tmp" / f"ingest-{sha[:12]}"
    work.mkdir(parents=True)
    (work / "cog.tif").write_bytes(b"half written")
    with advisory_lock(engine, lock_key(sha)) as got:
        assert got
        report = repair(engine, open_store(ingest_settings), [COLLECTION])
        assert work.name in report.busy and (work / "cog.tif").exists()
    report = repair(engine, open_store(ingest_settings), [COLLECTION])
    assert work.name in report.work_removed and not work.exists()


def test_repair_refuses_a_store_and_catalogue_with_nothing_in_common(earlier, engine, ingest_settings, settings,
                                                                     store_dir, tmp_path):
    """A mistyped SDI_RASTER_STORE (or database) would make repair delete every row (or file): refused,
    nothing changed, unless --force."""
    made = [ingest_file(rasters.uav_rgb(tmp_path / f"a{i}.tif", width=300, height=200, seed=40 + i),
                        collection_id=COLLECTION, when=parse_when("2026-03-15"), engine=engine,
                        settings=ingest_settings) for i in range(2)]
    wrong = tmp_path / "not-the-store"
    wrong.mkdir()
    before = state(engine, store_dir)
    result = run_sdi(settings, "ingest", "--repair", "-c", COLLECTION, SDI_RASTER_STORE=str(wrong))
    assert result.returncode == 1
    assert "SDI_RASTER_STORE" in result.stderr + result.stdout and "--force" in result.stderr + result.stdout
    assert state(engine, store_dir) == before  # every row and file still there
    # the other way round: files no row names (a wrong database) are not deleted either
    for i in range(2):
        (wrong / COLLECTION).mkdir(exist_ok=True)
        (wrong / f"{COLLECTION}/foreign{i}.tif").write_bytes(b"II*\x00 another archive")
    from rasters.errors import StoreError
    from rasters.store import LocalStore
    from uav_ingest.repair import repair

    with engine.begin() as conn:  # this test's rows aside, so only the foreign files are in question
        conn.execute(text("UPDATE raster_items SET collection_id = 'uav_multispectral' WHERE id = ANY(:ids)")
                     .bindparams(ids=[m.item_id for m in made]))
    try:
        with pytest.raises(StoreError, match="SDI_DATABASE_URL") as refused:
            repair(engine, LocalStore(wrong), [COLLECTION])
        assert refused.value.code == "store_mismatch"
        assert sorted(p.name for p in (wrong / COLLECTION).iterdir()) == ["foreign0.tif", "foreign1.tif"]
        report = repair(engine, LocalStore(wrong), [COLLECTION], force=True)
        assert sorted(report.orphan_files) == [f"{COLLECTION}/foreign0.tif", f"{COLLECTION}/foreign1.tif"]
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE raster_items SET collection_id = :c WHERE id = ANY(:ids)")
                         .bindparams(c=COLLECTION, ids=[m.item_id for m in made]))

