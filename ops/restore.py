"""``sdi restore DIR``: a backup back into an empty installation (embedded or external PostGIS, local or
S3 store), every checksum checked before anything is written and every COG checked after.

Order: verify the backup (``ops.manifest.verify``) → refuse a database with tables of ours or a store
with COGs (unless ``force``) → ``pg_restore`` in one transaction (all or nothing) → drop the rows the
snapshot held as ``pending`` (ingests in flight: their work files are not in a backup; a re-run of the
same file ingests it again) → put every COG back and read its SHA-256 back from the store → compare the
row counts with the manifest's.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, delete, func, select, table, text

from ops import manifest as mf
from ops import postgres
from rasters.store import open_store
from sdi.database import make_engine, translate_db_errors
from sdi.errors import BackupError, TargetNotEmptyError
from sdi.models import RasterItem
from sdi.settings import Settings

logger = logging.getLogger(__name__)
#: the archive's entries of the PostGIS extension itself (``… EXTENSION - postgis``, ``COMMENT - EXTENSION postgis``)
POSTGIS_ENTRY = re.compile(r"\b(EXTENSION - postgis|COMMENT - EXTENSION postgis)\s")
SRS_DATA = re.compile(r" TABLE DATA \S+ spatial_ref_sys ")


def restore(settings: Settings, src: Path, *, force: bool = False,
            say: Callable[[str], None] = logger.info) -> mf.Manifest:
    """Restore the backup folder ``src`` into the installation of ``settings``."""
    pg_restore = postgres.tool(settings, "pg_restore")
    manifest = mf.verify(src, pg_restore)
    say(f"Bản sao lưu hợp lệ / backup verified: {len(manifest.files)} files, {len(manifest.cogs)} COG(s)")
    store = open_store(settings)
    url = postgres.target_url(settings)
    engine = make_engine(settings, url=url)
    try:
        with translate_db_errors(), engine.connect() as conn:
            postgres.check_version(pg_restore, postgres.server_major(conn))
            tables = postgres.user_tables(conn)
            schemas = postgres.user_schemas(conn)
            has_postgis = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).scalar()
        keys = list(store.keys())
        if (tables or schemas or keys) and not force:
            what = []
            if schemas and not tables:
                what.append(f"cơ sở dữ liệu có lược đồ / the database has schema(s) {', '.join(schemas)}")
            if tables:
                what.append(f"cơ sở dữ liệu có {len(tables)} bảng / the database has {len(tables)} table(s) "
                            f"({', '.join(f'{s}.{n}' for s, n in tables[:5])}{', …' if len(tables) > 5 else ''})")
            if keys:
                what.append(f"kho ảnh có {len(keys)} tệp / the store {settings.raster_store} holds {len(keys)} "
                            "COG(s)")
            raise TargetNotEmptyError("Không khôi phục vào nơi đã có dữ liệu / refusing to restore over data: "
                                      + "; ".join(what) + ". Dùng / use --force to overwrite.")
        if tables or schemas:  # --force: the installation is replaced, not merged
            say(f"Xoá dữ liệu cũ / dropping the {len(tables)} table(s), schemas {schemas} and PostGIS of the "
                "target (--force)")
            postgres.wipe(url, tables, schemas)
            has_postgis = False
        say("Khôi phục cơ sở dữ liệu / restoring the database (one transaction)")
        _pg_restore(pg_restore, url, src / mf.DUMP, skip_postgis=bool(has_postgis))
        with translate_db_errors(), engine.begin() as conn:
            conn.execute(delete(RasterItem).where(RasterItem.status == "pending"))
        say(f"Khôi phục ảnh / putting {len(manifest.cogs)} COG(s) back into {settings.raster_store}")
        for cog in manifest.cogs:
            tmp = store.tmp_dir / f"restore-{secrets.token_hex(6)}.tif"
            shutil.copyfile(src / mf.COGS / cog["key"], tmp)
            try:
                store.put(tmp, cog["key"])
            finally:
                tmp.unlink(missing_ok=True)
            if store.sha256(cog["key"]) != cog["sha256"]:
                raise BackupError(f"Tệp ảnh khôi phục sai / the restored COG {cog['key']} does not match its "
                                  "SHA-256")
        _check_counts(engine, manifest)
    finally:
        engine.dispose()
    return manifest


def _pg_restore(pg_restore: str, url: str, dump: Path, *, skip_postgis: bool) -> None:
    """``pg_restore`` of the whole archive in one transaction, without owners or grants (the target's
    user owns everything), in the archive's order but for two changes made through ``--use-list``:

    - ``spatial_ref_sys``'s rows (VN-2000 / TM-3, EPSG:9215, added by the first migration) before any
      other table's: the layers' generated columns (``area_ha``) transform to 9215 as their rows are
      copied, and the archive's alphabetical order would copy ``admin_units`` first;
    - when PostGIS is already there (an administrator created it) its CREATE and COMMENT EXTENSION
      entries are left out: they need the extension's owner, and the objects are the same.
    """
    conninfo, env = postgres.libpq(url)
    listing = postgres.run([pg_restore, "--list", str(dump)], env, "pg_restore --list").stdout.splitlines()
    entries = [line for line in listing if not (skip_postgis and POSTGIS_ENTRY.search(line))]
    srs = [line for line in entries if SRS_DATA.search(line)]
    rest = [line for line in entries if not SRS_DATA.search(line)]
    first_data = next((i for i, line in enumerate(rest) if " TABLE DATA " in line), len(rest))
    ordered = rest[:first_data] + srs + rest[first_data:]
    with tempfile.TemporaryDirectory(prefix="sdi-restore-") as tmp:
        use_list = Path(tmp) / "toc.list"
        use_list.write_text("\n".join(ordered) + "\n")
        postgres.run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                      f"--use-list={use_list}", f"--dbname={conninfo}", str(dump)], env, "pg_restore")


def _check_counts(engine: Engine, manifest: mf.Manifest) -> None:
    """Every table has the manifest's row count (``raster_items``: its ready rows, the COGs)."""
    wrong = []
    with engine.connect() as conn:
        for name, want in manifest.tables.items():
            schema, _, rel = name.partition(".")
            got = conn.execute(select(func.count()).select_from(table(rel, schema=schema))).scalar_one()
            if name == "public.raster_items":
                want = len(manifest.cogs)
            if got != want:
                wrong.append(f"{name}: {got} ≠ {want}")
    if wrong:
        raise BackupError("Số dòng sau khôi phục khác bản sao lưu / row counts differ after the restore: "
                          + "; ".join(wrong))
