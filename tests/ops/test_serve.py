"""``sdi serve``: graceful shutdown with a request in flight (a real server, a real lock in PostGIS)."""

from __future__ import annotations

import signal
import threading
import time

import httpx
from sqlalchemy import text

from tests.conftest import start_server


def test_sigterm_lets_a_request_in_flight_finish(settings, seeded, engine, catalog):
    table = catalog["admin_units"].sa_table
    server = start_server(settings, {"SDI_GRACEFUL_TIMEOUT_S": "20", "SDI_LOG_LEVEL": "INFO"})
    answer: dict = {}
    try:
        httpx.get(f"{server.url}/ogc/collections/admin_units/items?limit=1", timeout=30)  # views built, warm
        with engine.connect() as conn:
            tx = conn.begin()
            quoted = engine.dialect.identifier_preparer.format_table(table)  # the identifier from the models
            conn.execute(text(f"LOCK TABLE {quoted} IN ACCESS EXCLUSIVE MODE"))  # the read below waits on it

            def slow() -> None:
                try:
                    answer["r"] = httpx.get(f"{server.url}/ogc/collections/admin_units/items?limit=5", timeout=30)
                except httpx.HTTPError as exc:
                    answer["error"] = exc

            reader = threading.Thread(target=slow)
            reader.start()
            time.sleep(1.5)  # the request is in flight, waiting for the lock
            assert "r" not in answer
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert server.proc.poll() is None, "still running: the request in flight is not finished"
            with_new = None
            try:
                with_new = httpx.get(f"{server.url}/health", timeout=2).status_code
            except httpx.TransportError:
                pass
            assert with_new is None, "no new connection is accepted while shutting down"
            tx.rollback()  # the lock goes: the request finishes
        reader.join(timeout=30)
        assert "error" not in answer, answer
        r = answer["r"]
        assert r.status_code == 200 and len(r.json()["features"]) == 5
        # uvicorn re-raises the SIGTERM it caught once it has shut down cleanly
        assert server.proc.wait(timeout=20) in (0, -signal.SIGTERM)
        assert "Shutting down" in server.output() and "Traceback" not in server.output()
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
