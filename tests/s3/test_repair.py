"""``sdi ingest --repair`` with the store in an S3 bucket: interrupted ingests finished or rolled back,
objects without rows and rows without objects removed, a foreign object at a key never taken
for the COG. The crash is real (``os._exit`` in the ``sdi`` subprocess, see
``tests/uav_ingest/test_atomic.py``)."""

from __future__ import annotations

import hashlib
import sys

import pytest
from sqlalchemy import text

from tests.s3.conftest import COLLECTION, PREFIX
from tests.s3.helpers import objects, sdi_env
from tests.uav_ingest import rasters
from tests.uav_ingest.helpers import run_sdi
from tests.uav_ingest.test_atomic import CRASHING_SDI
from uav_ingest.ingest import ingest_file, parse_when

pytestmark = pytest.mark.usefixtures("own_rows")


def _crash(settings, src, at: str) -> None:
    result = run_sdi(settings, "ingest", str(src), "-c", COLLECTION, "-t", "2026-03-15",
                     python=[sys.executable, "-c", CRASHING_SDI], CRASH_AT=at, **sdi_env(settings))
    assert result.returncode == 137, result.stdout + result.stderr


def _rows(engine, src) -> list:
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    with engine.connect() as conn:
        return conn.execute(text("SELECT id, status, href, cog_sha256 FROM raster_items WHERE source_sha256 = :s")
                            .bindparams(s=sha)).all()


def _repair(settings):
    result = run_sdi(settings, "ingest", "--repair", "-c", COLLECTION, **sdi_env(settings))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _sha_of(s3_server, bucket: str, key: str) -> str:
    return hashlib.sha256(s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


def _work_files(settings) -> list:
    return [p for p in (settings.state_dir / "raster-tmp").rglob("*") if p.is_file()]


def assert_consistent(engine, s3_server, bucket: str) -> None:
    """Every object of the store named by a ready row, with the recorded checksum; no work file."""
    with engine.connect() as conn:
        recorded = {href: (status, sha) for href, status, sha in conn.execute(
            text("SELECT href, status, cog_sha256 FROM raster_items WHERE collection_id = 's3_test_rgb'"))}
    for key in objects(s3_server, bucket):
        href = key.removeprefix(f"{PREFIX}/")
        assert href in recorded, f"object without row: {key}"
        assert recorded[href] == ("ready", _sha_of(s3_server, bucket, key))


def test_crash_before_the_upload_then_repair_resumes(engine, s3_settings, s3_server, bucket, tmp_path):
    src = rasters.uav_rgb(tmp_path / "crash1.tif", width=600, height=500, seed=51)
    _crash(s3_settings, src, "before_move")
    (row,) = _rows(engine, src)
    assert row.status == "pending" and objects(s3_server, bucket) == {}  # nothing uploaded
    assert [p.name for p in _work_files(s3_settings)] == ["cog.tif"]  # the local work copy survived
    result = _repair(s3_settings)
    assert "resumed" in result.stdout and row.id in result.stdout
    assert [r.status for r in _rows(engine, src)] == ["ready"]
    assert list(objects(s3_server, bucket)) == [f"{PREFIX}/{row.href}"]
    assert _sha_of(s3_server, bucket, f"{PREFIX}/{row.href}") == row.cog_sha256
    assert not _work_files(s3_settings)
    assert_consistent(engine, s3_server, bucket)


def test_crash_before_the_upload_then_the_same_ingest_resumes(engine, s3_settings, s3_server, bucket, tmp_path):
    src = rasters.uav_rgb(tmp_path / "crash2.tif", width=600, height=500, seed=52)
    _crash(s3_settings, src, "before_move")
    result = run_sdi(s3_settings, "ingest", str(src), "-c", COLLECTION, "-t", "2026-03-15", **sdi_env(s3_settings))
    assert result.returncode == 0 and "resumed" in result.stdout, result.stdout + result.stderr
    assert [r.status for r in _rows(engine, src)] == ["ready"]
    assert_consistent(engine, s3_server, bucket)


def test_crash_after_the_upload_then_repair_completes(engine, s3_settings, s3_server, bucket, tmp_path):
    src = rasters.uav_rgb(tmp_path / "crash3.tif", width=600, height=500, seed=53)
    _crash(s3_settings, src, "after_move")
    (row,) = _rows(engine, src)
    assert row.status == "pending" and list(objects(s3_server, bucket)) == [f"{PREFIX}/{row.href}"]
    result = _repair(s3_settings)
    assert "completed" in result.stdout and row.id in result.stdout
    assert [r.status for r in _rows(engine, src)] == ["ready"]
    assert_consistent(engine, s3_server, bucket)


def test_a_foreign_object_of_the_same_size_is_not_taken_for_the_cog(engine, s3_settings, s3_server, bucket,
                                                                   tmp_path):
    """After the upload a pending row's object is replaced by other bytes of the same length: the
    checksum (not the size) decides, the row is rolled back and the object removed."""
    src = rasters.uav_rgb(tmp_path / "crash4.tif", width=600, height=500, seed=54)
    _crash(s3_settings, src, "after_move")
    (row,) = _rows(engine, src)
    key = f"{PREFIX}/{row.href}"
    size = objects(s3_server, bucket)[key][0]
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=b"\x00" * size)
    result = _repair(s3_settings)
    assert "rolled_back" in result.stdout and row.id in result.stdout
    assert _rows(engine, src) == [] and objects(s3_server, bucket) == {}
    # and the file can be ingested again
    again = ingest_file(src, collection_id=COLLECTION, when=parse_when("2026-03-15"), engine=engine,
                        settings=s3_settings)
    assert again.status == "ingested"
    assert_consistent(engine, s3_server, bucket)


def test_repair_removes_objects_without_rows_and_rows_without_objects(engine, s3_settings, s3_server, bucket,
                                                                      tmp_path):
    kept = ingest_file(rasters.uav_rgb(tmp_path / "kept.tif", width=500, height=400, seed=55),
                       collection_id=COLLECTION, when=parse_when("2026-03-15"), engine=engine, settings=s3_settings)
    lost = ingest_file(rasters.uav_rgb(tmp_path / "lost.tif", width=500, height=400, seed=56),
                       collection_id=COLLECTION, when=parse_when("2026-03-15"), engine=engine, settings=s3_settings)
    client = s3_server.client()
    client.delete_object(Bucket=bucket, Key=f"{PREFIX}/{COLLECTION}/{lost.item_id}.tif")  # someone deleted it
    client.put_object(Bucket=bucket, Key=f"{PREFIX}/{COLLECTION}/stray.tif", Body=b"II*\x00 left by hand")
    client.put_object(Bucket=bucket, Key=f"other-app/{COLLECTION}/theirs.tif", Body=b"not under the store's prefix")
    result = _repair(s3_settings)
    assert f"{COLLECTION}/stray.tif" in result.stdout and lost.item_id in result.stdout
    with engine.connect() as conn:
        ids = set(conn.execute(text("SELECT id FROM raster_items")).scalars())
    assert kept.item_id in ids and lost.item_id not in ids
    assert set(objects(s3_server, bucket)) == {f"{PREFIX}/{COLLECTION}/{kept.item_id}.tif",
                                               f"other-app/{COLLECTION}/theirs.tif"}  # outside the prefix: untouched
    client.delete_object(Bucket=bucket, Key=f"other-app/{COLLECTION}/theirs.tif")
    assert_consistent(engine, s3_server, bucket)
