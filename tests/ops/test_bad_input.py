"""A backup that does not check out is refused naming the file; a restore over data is refused and
changes nothing; a backup into a folder that holds files is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ops import manifest as mf
from ops import postgres
from sdi.errors import BackupError
from tests.ops.conftest import checksums
from tests.uav_ingest.helpers import run_sdi


@pytest.fixture()
def copy(source, tmp_path: Path) -> Path:
    """A copy of the source's backup to spoil."""
    return Path(shutil.copytree(source.backup, tmp_path / "backup"))


def _verify(settings, folder: Path):  # type: ignore[no-untyped-def]
    result = run_sdi(settings, "backup", "--verify", str(folder))
    assert result.returncode == 2, result.stdout + result.stderr
    return " ".join(result.stderr.split())  # rich wraps long lines


def test_one_byte_changed_in_a_cog_is_named(source, copy):
    key = mf.read(copy).cogs[0]["key"]
    path = copy / mf.COGS / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    message = _verify(source.settings, copy)
    assert f"changed (SHA-256 differs): {mf.COGS}/{key}" in message and "Invalid backup" in message


def test_a_missing_file_is_named(source, copy):
    missing = sorted((copy / mf.STAC).rglob("*.json"))[0]
    missing.unlink()
    message = _verify(source.settings, copy)
    assert f"missing: {missing.relative_to(copy).as_posix()}" in message


def test_an_unlisted_file_is_named(source, copy):
    (copy / mf.COGS / "uav_rgb" / "intruder.tif").write_bytes(b"II*\x00")
    assert "not in the manifest: cogs/uav_rgb/intruder.tif" in _verify(source.settings, copy)


def test_an_edited_manifest_is_named(source, copy):
    data = json.loads((copy / mf.MANIFEST).read_text())
    data["tables"]["public.forest_plots"] -= 1
    (copy / mf.MANIFEST).write_text(json.dumps(data, indent=2))
    assert "manifest.json was changed" in _verify(source.settings, copy)


def test_an_unreadable_dump_is_found_by_pg_restore(source, copy):
    """Even with a manifest re-written to match (checksums are not enough): the dump is read."""
    dump = copy / mf.DUMP
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 3])
    manifest = mf.read(copy)
    manifest.add_file(copy, mf.DUMP)
    manifest.write(copy)
    assert "database.dump unreadable by pg_restore" in _verify(source.settings, copy)


def test_a_tampered_backup_is_not_restored(source, copy, new_installation):
    (copy / mf.SETTINGS).write_text("{}")
    target = new_installation("tampered")
    result = run_sdi(target.settings, "restore", str(copy), SDI_RASTER_STORE=str(target.store))
    assert result.returncode == 2 and "settings.json" in result.stderr, result.stdout + result.stderr
    assert checksums(target.engine) == {} and not list(target.store.rglob("*.tif"))


def test_restore_over_a_database_with_data_is_refused_and_changes_nothing(source):
    """The source itself is the non-empty installation: same rows and files after the refusal."""
    before = checksums(source.engine)
    files = {p: p.read_bytes() for p in source.store.rglob("*.tif")}
    result = run_sdi(source.settings, "restore", str(source.backup), SDI_RASTER_STORE=str(source.store))
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Restore target not empty" in message, result.stdout + result.stderr
    assert "the database has" in message and "--force" in message
    assert checksums(source.engine) == before
    assert {p: p.read_bytes() for p in source.store.rglob("*.tif")} == files


def test_restore_into_an_empty_database_but_a_store_with_cogs_is_refused(source, new_installation):
    target = new_installation("store")
    result = run_sdi(target.settings, "restore", str(source.backup), SDI_RASTER_STORE=str(source.store))
    assert result.returncode == 2 and "COG(s)" in " ".join(result.stderr.split()), result.stderr
    assert checksums(target.engine) == {}


def test_restore_force_replaces_an_installation(source, new_installation):
    target = new_installation("force")
    first = run_sdi(target.settings, "restore", str(source.backup), SDI_RASTER_STORE=str(target.store))
    assert first.returncode == 0, first.stderr
    with target.engine.begin() as conn:  # the installation drifts after the backup
        conn.exec_driver_sql("DELETE FROM forest_plots WHERE ctid IN (SELECT ctid FROM forest_plots LIMIT 5)")
        conn.exec_driver_sql("CREATE TABLE stray (id int)")
        conn.exec_driver_sql("CREATE SCHEMA stray_schema")  # a schema of its own, as `published` is for layers
        conn.exec_driver_sql("CREATE TABLE stray_schema.stray (id int)")
        conn.exec_driver_sql("CREATE TABLE published.stray (id int)")
    again = run_sdi(target.settings, "restore", "--force", str(source.backup), SDI_RASTER_STORE=str(target.store))
    assert again.returncode == 0, again.stdout + again.stderr
    assert checksums(target.engine) == source.tables  # the stray tables are gone, the plots are back
    with target.engine.connect() as conn, source.engine.connect() as original:
        assert postgres.user_schemas(conn) == postgres.user_schemas(original)  # published, trash: as backed up
        assert "stray" not in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'published'").scalars().all()


def test_restore_into_a_database_with_a_schema_of_its_own_is_refused(source, new_installation):
    target = new_installation("schema")
    with target.engine.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA published")
    result = run_sdi(target.settings, "restore", str(source.backup), SDI_RASTER_STORE=str(target.store))
    assert result.returncode == 2 and "schema(s) published" in " ".join(result.stderr.split()), result.stderr
    with target.engine.connect() as conn:
        assert postgres.user_schemas(conn) == ["published"] and postgres.user_tables(conn) == []


def test_backup_into_a_folder_with_files_is_refused(source, tmp_path: Path):
    (tmp_path / "old.txt").write_text("keep me")
    result = run_sdi(source.settings, "backup", str(tmp_path), SDI_RASTER_STORE=str(source.store))
    assert result.returncode == 2 and "not an empty folder" in " ".join(result.stderr.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]


def test_a_pg_dump_older_than_the_server_is_refused_saying_so(source):
    pg_dump = postgres.tool(source.settings, "pg_dump")
    major = postgres.tool_major(pg_dump)
    postgres.check_version(pg_dump, major)  # the same major: fine
    with pytest.raises(BackupError) as refused:
        postgres.check_version(pg_dump, major + 1)  # a server one major version newer
    assert f"version {major}, older than the server ({major + 1})" in refused.value.detail
    assert f"postgresql-client-{major + 1}" in refused.value.detail
