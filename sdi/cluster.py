"""The embedded PostGIS cluster: a private PostgreSQL owned by the project under ``.sdi/``.

No library manages a persistent, project-owned cluster with PostGIS from the OS
packages (pytest-postgresql and pgserver build throw-away ones), so this wraps
``initdb`` and ``pg_ctl`` directly. PostgreSQL refuses to run as root; when the
platform is run by root (CI, containers) the server runs as the ``postgres``
system account that the Debian/Ubuntu packages create.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import quote

from attrs import define

from sdi.errors import ClusterError
from sdi.settings import Settings

logger = logging.getLogger(__name__)

DB_NAME = "sdi"
DB_USER = "sdi"

# Server settings for a 2-core / 24 GiB machine doing bulk loads and tile reads.
_SERVER_CONF = {
    "listen_addresses": "'127.0.0.1'",
    "shared_buffers": "'512MB'",
    "work_mem": "'32MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'15min'",
    "wal_compression": "on",
    "effective_cache_size": "'8GB'",
    "random_page_cost": "1.1",
    "jit": "off",
    "log_min_duration_statement": "2000",
}


@define(kw_only=True)
class ClusterInfo:
    """Where the cluster lives and how to reach it (kept in ``.sdi/cluster.json``)."""

    port: int
    password: str

    def url(self, database: str = DB_NAME) -> str:
        """SQLAlchemy URL of a database in this cluster."""
        return (
            f"postgresql+psycopg://{DB_USER}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{database}"
        )


class Cluster:
    """Set up, start, stop and describe the embedded cluster of one ``Settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.state_dir.resolve()
        self.pgdata = self.root / "pgdata"
        self.socket_dir = self.root / "run"
        self.log_file = self.root / "postgres.log"
        self.info_file = self.root / "cluster.json"

    # -- discovery -----------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists() and self.info_file.exists()

    def info(self) -> ClusterInfo:
        """Port and password of an initialised cluster."""
        if not self.info_file.exists():
            raise ClusterError(
                f"Cụm PostgreSQL chưa được khởi tạo / no embedded cluster at {self.root}: "
                "run `sdi db start` (or `make run`)"
            )
        return ClusterInfo(**json.loads(self.info_file.read_text()))

    def bin(self, name: str) -> str:
        """Path of a PostgreSQL server program, from the version that has PostGIS."""
        return str(find_pg_bin(self.settings) / name)

    # -- life cycle ----------------------------------------------------------------
    def ensure_running(self) -> ClusterInfo:
        """Initialise the cluster if needed, start it if stopped; idempotent."""
        if not self.initialised:
            self._initdb()
        if not self.running():
            self.start()
        return self.info()

    def running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        result = self._run([self.bin("pg_ctl"), "status", "-D", str(self.pgdata)], check=False)
        return result.returncode == 0

    def start(self) -> None:
        info = self.info()
        if not _port_free(info.port):
            raise ClusterError(
                f"Cổng {info.port} đang bị chiếm / port {info.port} is taken by another "
                f"program; stop it or change `port` in {self.info_file}"
            )
        logger.info("starting embedded PostGIS on 127.0.0.1:%s (%s)", info.port, self.pgdata)
        self._prepare_dirs()
        result = self._run(
            [self.bin("pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.pgdata),
             "-l", str(self.log_file)],
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(
                f"PostgreSQL did not start (exit {result.returncode}): "
                f"{result.stdout.strip()} — see {self.log_file}"
            )

    def stop(self) -> bool:
        """Stop the cluster; returns False if it was not running."""
        if not self.running():
            return False
        logger.info("stopping embedded PostGIS (%s)", self.pgdata)
        self._run([self.bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.pgdata)])
        return True

    # -- internals -----------------------------------------------------------------
    def _initdb(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            raise ClusterError(
                f"{self.pgdata} holds a cluster but {self.info_file} is missing; "
                "restore it or remove the folder to start afresh"
            )
        port = self.settings.pg_port if _port_free(self.settings.pg_port) else _free_port()
        info = ClusterInfo(port=port, password=secrets.token_urlsafe(24))
        self._prepare_dirs()
        pwfile = self.root / "initdb.pw"
        pwfile.write_text(info.password + "\n")
        self._hand_over(pwfile)
        logger.info("initialising embedded PostGIS cluster in %s", self.pgdata)
        try:
            self._run([
                self.bin("initdb"), "-D", str(self.pgdata), "-U", DB_USER,
                f"--pwfile={pwfile}", "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C",
            ])
        finally:
            pwfile.unlink(missing_ok=True)
        conf = dict(_SERVER_CONF, port=str(port),
                    unix_socket_directories=f"'{self.socket_dir}'")
        with (self.pgdata / "postgresql.conf").open("a") as fh:
            fh.write("\n# Lạng Sơn SDI embedded cluster\n")
            fh.writelines(f"{key} = {value}\n" for key, value in conf.items())
        self.info_file.write_text(json.dumps({"port": info.port, "password": info.password}))
        self.info_file.chmod(0o600)
        self.start()
        create_database(info.url("postgres"), DB_NAME)

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        user = _server_user()
        if user is not None and subprocess.run(
            ["test", "-x", str(self.root)], user=user.pw_uid, check=False
        ).returncode != 0:
            raise ClusterError(
                f"PostgreSQL chạy bằng tài khoản '{user.pw_name}' nhưng không vào được {self.root} / "
                f"the server runs as '{user.pw_name}' and cannot reach {self.root}: make its parent "
                "folders traversable (chmod o+x) or set SDI_STATE_DIR to another folder"
            )
        for path in (self.pgdata, self.socket_dir):
            path.mkdir(mode=0o700, exist_ok=True)
            self._hand_over(path)
        self.log_file.touch(exist_ok=True)
        self._hand_over(self.log_file)

    def _hand_over(self, path: Path) -> None:
        """Give a path to the server account when running as root."""
        user = _server_user()
        if user is not None and path.exists():
            shutil.chown(path, user.pw_name, user.pw_gid)

    def _run(self, cmd: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = _server_user()
        result = subprocess.run(
            cmd, capture_output=True, text=True, check=False,
            user=user.pw_uid if user else None, group=user.pw_gid if user else None,
            cwd=self.root if self.root.exists() else None,
        )
        if check and result.returncode != 0:
            raise ClusterError(
                f"`{Path(cmd[0]).name} {cmd[1]}` failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}"
            )
        return result


def create_database(admin_url: str, name: str) -> None:
    """Create database ``name`` if it does not exist (``CREATE DATABASE`` cannot run in a transaction)."""
    import psycopg
    from psycopg import sql

    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            logger.info("creating database %s", name)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, closing its connections."""
    import psycopg
    from psycopg import sql

    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def find_pg_bin(settings: Settings) -> Path:
    """The bin directory of the newest PostgreSQL that has PostGIS installed.

    Raises:
        ClusterError: no PostgreSQL server with PostGIS was found; says what to install.
    """
    if settings.pg_bin_dir is not None:
        return settings.pg_bin_dir
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
        reverse=True,
    )
    for initdb in candidates:
        version = initdb.parts[-3]
        if Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists():
            return initdb.parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise ClusterError(
        "Không tìm thấy PostgreSQL + PostGIS / no PostgreSQL server with PostGIS found. "
        "On Debian/Ubuntu: `sudo apt-get install postgresql postgresql-<major>-postgis-3` "
        "(`make run` does it), or set SDI_PG_BIN_DIR, or point SDI_DATABASE_URL at a PostGIS."
    )


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ClusterError(
            "PostgreSQL cannot run as root and there is no `postgres` account; "
            "install the OS package `postgresql` or run as an ordinary user"
        ) from exc


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
