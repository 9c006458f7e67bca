"""Shared fixtures: one real PostGIS database per test run.

The database is ``SDI_TEST_DATABASE_URL`` when set; otherwise a fresh database
``sdi_test_<pid>`` in the project's embedded cluster (started if needed), dropped at the
end. No mocks: every test that touches data talks to PostGIS.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from layers.catalog import Layer, load_catalog
from sdi.bootstrap import prepare_database
from sdi.cluster import Cluster, create_database, drop_database
from sdi.settings import Settings

#: Small enough to keep the suite quick, big enough to exercise batching.
TEST_FOREST_TARGET = 2_000


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    # rasters written by tests never land in the repository's own store
    store = str(tmp_path_factory.mktemp("raster-store"))
    external = os.environ.get("SDI_TEST_DATABASE_URL")
    if external:
        yield Settings(database_url=external, forest_sample_target=TEST_FOREST_TARGET, raster_store=store,
                       rate_limits={})
        return
    base = Settings(database_url=None)
    info = Cluster(base).ensure_running()
    name = f"sdi_test_{os.getpid()}"
    drop_database(info.url("postgres"), name)
    create_database(info.url("postgres"), name)
    yield Settings(database_url=info.url(name), forest_sample_target=TEST_FOREST_TARGET, raster_store=store,
                   rate_limits={})  # tests that check the limits set their own
    drop_database(info.url("postgres"), name)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = prepare_database(settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def seeded(engine: Engine, settings: Settings) -> dict:
    """The bundled datasets, loaded once for the session."""
    from layers.bundled import seed_bundled

    return seed_bundled(engine, settings)


@pytest.fixture()
def catalog(engine: Engine, seeded: dict) -> dict[str, Layer]:
    return load_catalog(engine)


@pytest.fixture()
def snapshot(engine: Engine):  # type: ignore[no-untyped-def]
    """A fingerprint of a table's full contents, to prove a failed load changed nothing."""

    def take(table: str) -> tuple[int, str]:
        from sdi.models import Base

        assert table in Base.metadata.tables  # identifiers only from the models
        with engine.connect() as conn:
            rows = conn.execute(text(f'SELECT t::text FROM "{table}" t ORDER BY 1')).scalars().all()  # noqa: S608
            loads = conn.execute(text("SELECT count(*) FROM layer_loads")).scalar_one()
            meta = conn.execute(text("SELECT feature_count, extent::text, last_updated::text FROM layers "
                                     "WHERE table_name = :t").bindparams(t=table)).one()
        digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return len(rows), f"{digest}:{loads}:{tuple(meta)}"

    return take


@pytest.fixture()
def data_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class LiveServer:
    """A real ``sdi serve`` (uvicorn) process on a free port, against the test database."""

    url: str
    proc: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings: Settings, env: dict | None = None, args: tuple[str, ...] = (),
                 host: str = "127.0.0.1") -> LiveServer:
    """``sdi serve`` on ``host`` (``::1``: IPv6) and a free port, with extra ``args`` (``--workers 2``)."""
    port = free_port()
    # no rate limits unless a test sets them: clients such as GDAL and QGIS page fast from one address
    env = {**os.environ, "SDI_DATABASE_URL": settings.database_url, "SDI_LOG_LEVEL": "WARNING",
           "SDI_RASTER_STORE": settings.raster_store, "SDI_RATE_LIMITS": "{}", **(env or {})}
    # output to a file, not a pipe nobody reads (a full pipe would block the server)
    log = Path(tempfile.mkdtemp(prefix="sdi-server-")) / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sdi.cli", "serve", "--host", host, "--port", str(port),
                                 *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    reach = {"::": "::1", "0.0.0.0": "127.0.0.1"}.get(host, host)  # an unspecified address: connect to loopback
    url = f"http://[{reach}]:{port}" if ":" in reach else f"http://{reach}:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return LiveServer(url, proc, log)
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not start in 60 s")
        time.sleep(0.3)


def stop_server(server: LiveServer) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(scope="session")
def live_server(settings: Settings, seeded: dict) -> Iterator[LiveServer]:
    """One real HTTP server for the session (OGC API clients: GDAL, OWSLib, QGIS)."""
    # forest_plots (2,000 plots in tests) counts as a big layer: no COUNT, simplified low-zoom tiles
    server = start_server(settings, {"SDI_OGC_COUNT_THRESHOLD": "1000"})
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def keys(engine: Engine, seeded: dict) -> dict[str, str]:
    """API keys for each kind of caller (anonymous has none)."""
    from sdi.access import add_key

    run = os.getpid()
    return {
        "admin": add_key(engine, f"admin-{run}", "ubnd", "admin"),
        "border": add_key(engine, f"border-guard-{run}", "bdbp", "border"),
        "ranger": add_key(engine, f"ranger-{run}", "kiemlam", "agency"),
        "planner": add_key(engine, f"planner-{run}", "skhcn", "agency"),
    }


def pytest_runtest_makereport(item, call):
    """On a failure, show the end of the live server's log (tracebacks of server errors)."""
    if call.when == "call" and call.excinfo is not None and "live_server" in item.fixturenames:
        server = item.funcargs.get("live_server")
        if server is not None:
            item.add_report_section("call", "server log (tail)", server.output()[-6000:])
