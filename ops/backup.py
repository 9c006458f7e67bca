"""``sdi backup DIR``: a consistent snapshot of a running installation (database, COGs, STAC, settings).

Consistency: one ``REPEATABLE READ`` transaction exports its snapshot (``pg_export_snapshot``),
reads the row counts and the list of ``ready`` raster items, and stays open while ``pg_dump
--snapshot`` dumps *that same* snapshot. So the dump, the counts and the list of COGs describe one
instant, whatever the server writes meanwhile. (Reading the list first and dumping afterwards in
another transaction could list an item the dump lacks, or miss one it has.) The COGs are copied
after the transaction: a ``ready`` COG is never rewritten (``uav_ingest.ingest`` puts a new file
under a new key), and each copy is checked against the SHA-256 the snapshot recorded.

The backup is written to a hidden sibling folder and renamed to ``DIR`` when complete: a crashed
or failed backup never looks like a finished one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Connection, func, select, table, text
from sqlalchemy.engine import URL, make_url

from ops import manifest as mf
from ops import postgres
from rasters.store import file_sha256, open_store
from sdi.database import make_engine, translate_db_errors
from sdi.errors import BackupError, InvalidInputError
from sdi.models import RasterItem
from sdi.settings import Settings

logger = logging.getLogger(__name__)

#: settings never written to a backup (the database URL is kept without its password)
SECRET_SETTINGS = ("s3_access_key", "s3_secret_key")


def backup(settings: Settings, dest: Path, say: Callable[[str], None] = logger.info) -> mf.Manifest:
    """Write a backup of the installation of ``settings`` to the new folder ``dest``."""
    dest = dest.resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInputError(f"Thư mục đích đã có dữ liệu / {dest} exists and is not an empty folder: "
                                "choose a new folder for each backup")
    pg_dump = postgres.tool(settings, "pg_dump")
    store = open_store(settings)  # an unreachable S3 store is said now, before the dump
    url = postgres.target_url(settings)
    engine = make_engine(settings, url=url)
    work = dest.parent / f".{dest.name}.partial-{secrets.token_hex(4)}"
    work.mkdir(parents=True)
    try:
        with translate_db_errors(), engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                manifest, items = _snapshot(conn, settings, pg_dump)
                say(f"Sao lưu cơ sở dữ liệu / dumping the database (snapshot {manifest.snapshot})")
                conninfo, env = postgres.libpq(url)
                postgres.run([pg_dump, "--format=custom", f"--snapshot={manifest.snapshot}",
                              f"--file={work / mf.DUMP}", f"--dbname={conninfo}"], env, "pg_dump")
        _write_stac(work, items)
        say(f"Sao chép ảnh / copying {len(items)} COG(s) from {settings.raster_store}")
        for item_id, collection, key, sha, _ in items:
            target = _inside(work / mf.COGS, key)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                store.get(key, target)
            except FileNotFoundError as exc:
                raise BackupError(f"Thiếu tệp ảnh / the COG of item {item_id} is missing from the store: {key}"
                                  ) from exc
            if file_sha256(target) != sha:
                raise BackupError(f"Tệp ảnh khác danh mục / the COG of item {item_id} ({key}) does not match "
                                  "its recorded SHA-256: run `sdi ingest --repair` and back up again")
            manifest.cogs.append({"item": item_id, "collection": collection, "key": key, "sha256": sha})
        (work / mf.SETTINGS).write_text(json.dumps(public_settings(settings), indent=2, ensure_ascii=False,
                                                   sort_keys=True) + "\n", encoding="utf-8")
        for path in sorted(p for p in work.rglob("*") if p.is_file()):
            manifest.add_file(work, path.relative_to(work).as_posix())
        manifest.write(work)
        if dest.exists():
            dest.rmdir()
        work.rename(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        engine.dispose()
    return manifest


def _snapshot(conn: Connection, settings: Settings, pg_dump: str) -> tuple[mf.Manifest, list[tuple]]:
    """In the open transaction: export its snapshot, count every table, list the ready items."""
    snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
    postgres.check_version(pg_dump, postgres.server_major(conn))
    tables = postgres.user_tables(conn)
    counts = {f"{schema}.{name}": int(conn.execute(select(func.count()).select_from(table(name, schema=schema)))
                                      .scalar_one()) for schema, name in tables}
    revision = None
    if ("public", "alembic_version") in tables:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    items: list[tuple] = []
    if ("public", "raster_items") in tables:
        items = [tuple(r) for r in conn.execute(
            select(RasterItem.id, RasterItem.collection_id, RasterItem.href, RasterItem.cog_sha256, RasterItem.stac)
            .where(RasterItem.status == "ready").order_by(RasterItem.id))]
    manifest = mf.Manifest(
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), schema_revision=revision,
        server_version=str(conn.execute(text("SHOW server_version")).scalar_one()),
        pg_dump_version=postgres.tool_major(pg_dump), snapshot=snapshot, store=settings.raster_store,
        tables=counts, stac_items=len(items))
    return manifest, items


def _write_stac(work: Path, items: list[tuple]) -> None:
    """Each item's STAC JSON as ``/stac`` serves it (the row is the truth for id and collection)."""
    for item_id, collection, _, _, stac in items:
        path = _inside(work / mf.STAC, f"{collection}/{item_id}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {**stac, "id": item_id, "collection": collection}
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def _inside(root: Path, rel: str) -> Path:
    """``root/rel``, refusing a key that would leave the backup folder (``../``, absolute)."""
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise BackupError(f"Khoá ngoài thư mục / a catalogue key leaves the backup folder: {rel!r}")
    return path


def public_settings(settings: Settings) -> dict:
    """The settings as JSON, without S3 keys or any password (a URL keeps everything but its password)."""
    out = settings.model_dump(mode="json", exclude=set(SECRET_SETTINGS))
    for name, value in out.items():
        if isinstance(value, str) and "://" in value:
            out[name] = _without_password(value)
    return out


def _without_password(url: str) -> str:
    if url.startswith("postgresql"):
        u = make_url(url)  # (URL.set(password=None) would keep it: None there means "unchanged")
        return URL.create(u.drivername, u.username, None, u.host, u.port, u.database, u.query).render_as_string(
            hide_password=False)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = (f"{parts.username}@" if parts.username else "") + (parts.hostname or "") + (
        f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
