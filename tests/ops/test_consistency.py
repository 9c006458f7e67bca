"""A backup taken while the server writes is one instant: the row counts and COG list read in the snapshot
are exactly what the dump restores, though rows kept arriving during the dump."""

from __future__ import annotations

import threading
import time

import httpx
from sqlalchemy import func, select

from ops.backup import backup
from ops.restore import restore
from sdi.access import add_key
from sdi.models import AccessLogEntry
from tests.ops.conftest import RUN, checksums


def _log_rows(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AccessLogEntry)).scalar_one())


def test_a_backup_while_the_server_writes_is_one_snapshot(source, new_installation, tmp_path):
    key = add_key(source.engine, f"ops-border-{RUN}", "bdbp", "border")
    stop, served = threading.Event(), []

    def reads_of_the_restricted_layer() -> None:  # each one is written to access_log by the server
        with httpx.Client(base_url=source.server.url, headers={"X-API-Key": key}, timeout=30) as client:
            while not stop.is_set():
                served.append(client.get("/ogc/collections/border_belt/items?limit=1").status_code)

    writer = threading.Thread(target=reads_of_the_restricted_layer)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while len(served) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        before = _log_rows(source.engine)
        manifest = backup(source.settings, tmp_path / "backup")
        time.sleep(0.5)
        after = _log_rows(source.engine)
    finally:
        stop.set()
        writer.join()
    assert set(served) == {200}
    snapshot = manifest.tables["public.access_log"]
    assert before <= snapshot < after, (before, snapshot, after)  # rows arrived during and after the dump
    target = new_installation("during")
    restore(target.settings, tmp_path / "backup")  # checks every table's count against the manifest itself
    assert checksums(target.engine)["public.access_log"][0] == snapshot
