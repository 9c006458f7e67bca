"""PostgreSQL's own tools for backups: ``pg_dump`` / ``pg_restore`` of the right version, how to reach
the database without putting its password on a command line, and whether a database is empty.

The dump and restore are PostgreSQL's (custom format, ``-Fc``): no Python library writes an archive
that ``pg_restore`` reads, and no other tool knows every object type (PostGIS, sequences, indexes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from sdi.cluster import Cluster
from sdi.database import database_url
from sdi.errors import BackupError
from sdi.settings import Settings

#: user tables (not PostGIS's own spatial_ref_sys, nor any other extension's), in every schema of ours
USER_TABLES = text("""
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
    ORDER BY 1, 2""")
#: schemas of ours besides public (e.g. ``published``, the agencies' own layers), not an extension's
USER_SCHEMAS = text("""
    SELECT n.nspname FROM pg_namespace n
    WHERE n.nspname NOT IN ('public', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                      AND d.objid = n.oid AND d.deptype = 'e')
    ORDER BY 1""")


def tool(settings: Settings, name: str) -> str:
    """``pg_dump`` / ``pg_restore``: the embedded cluster's own; for an external database, the one on PATH."""
    if settings.embedded:
        path = Path(Cluster(settings).bin(name))
        if path.is_file():
            return str(path)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"Không tìm thấy {name} / {name} not found: install the PostgreSQL client of the "
                          "server's version (Debian: `apt-get install postgresql-client-<major>`) or set "
                          "SDI_PG_BIN_DIR")
    return found


def tool_major(path: str) -> int:
    """The major version of a PostgreSQL program (``pg_dump (PostgreSQL) 15.8`` → 15)."""
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"\)\s+(\d+)", out)
    if match is None:
        raise BackupError(f"Không đọc được phiên bản / cannot tell the version of {path}: {out.strip()!r}")
    return int(match.group(1))


def server_major(conn: Connection) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def check_version(path: str, server: int) -> None:
    """A dump or restore program older than the server cannot do the work: said plainly, before any."""
    major = tool_major(path)
    if major < server:
        raise BackupError(
            f"{Path(path).name} {major} cũ hơn máy chủ PostgreSQL {server} / {path} is version {major}, older "
            f"than the server ({server}): install postgresql-client-{server} and put it first on PATH")


def target_url(settings: Settings) -> str:
    """The SQLAlchemy URL of the installation's database (starting the embedded cluster if needed)."""
    if settings.embedded:
        Cluster(settings).ensure_running()
    return database_url(settings)


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment carrying it (``PGPASSWORD``):
    a password on a command line is visible to every user of the machine (``ps``)."""
    parsed = make_url(url)
    params = {"host": parsed.host, "port": parsed.port, "user": parsed.username, "dbname": parsed.database,
              **{k: str(v) for k, v in parsed.query.items()}}
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None}), env


def user_tables(conn: Connection) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute(USER_TABLES)]


def user_schemas(conn: Connection) -> list[str]:
    return [r[0] for r in conn.execute(USER_SCHEMAS)]


def run(cmd: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BackupError(f"{what} thất bại / failed (`{Path(cmd[0]).name}`, exit {result.returncode}): "
                          f"{result.stderr.strip()[-2000:]}")
    return result


def wipe(url: str, tables: list[tuple[str, str]], schemas: list[str]) -> None:
    """Drop ``tables``, ``schemas`` and PostGIS (with what depends on them) in one transaction:
    ``restore --force``."""
    conninfo, env = libpq(url)
    with psycopg.connect(conninfo, password=env.get("PGPASSWORD")) as conn:
        for schema, name in tables:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(schema, name)))
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        # functions of our own in public (the change-notification trigger's), not those of an extension
        own = conn.execute("SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = "
                           "p.pronamespace WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_depend d "
                           "WHERE d.objid = p.oid AND d.deptype = 'e')").fetchall()
        for (signature,) in own:
            conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {} CASCADE").format(sql.SQL(signature)))
        conn.execute("DROP EXTENSION IF EXISTS postgis CASCADE")
