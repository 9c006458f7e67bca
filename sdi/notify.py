"""Changes other processes made, told by PostgreSQL at once (``LISTEN``/``NOTIFY``).

Triggers (migration 0007) send ``NOTIFY sdi_changes, '<table>'`` when a statement changes
``api_keys`` (a revocation, a deletion), ``layers``, ``raster_collections`` or ``raster_items``;
the notification reaches every listening process when the transaction commits. A ``ChangeListener``
(one per server, started in the application's lifespan) holds one connection of its own, listens
in a daemon thread and calls what was registered for the table: the door forgets the keys it
trusted or re-reads the catalogue on the next request, the raster items are forgotten.

This makes a change elsewhere visible at once instead of within a second; it does not replace the
one-second expiry of those caches, which stays the guarantee: a notification sent while the
listener is reconnecting is lost (after a reconnection everything is forgotten once, to be safe),
and ``LISTEN`` does not pass through a transaction-pooling PgBouncer.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy import Engine

logger = logging.getLogger(__name__)

CHANNEL = "sdi_changes"
#: the tables whose triggers notify (payload: the table's name)
TABLES = ("api_keys", "layers", "raster_collections", "raster_items")
#: how long a wait for notifications lasts before the stop flag is looked at again
POLL_S = 0.5
#: the wait before connecting again after the connection was lost
RETRY_S = 1.0


def conninfo(engine: Engine) -> str:
    """A libpq URI for ``engine``'s database (without SQLAlchemy's driver suffix)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """Listens on ``CHANNEL`` in a thread of its own; ``on(table, callback)`` registers what to do."""

    def __init__(self, engine: Engine) -> None:
        self._conninfo = conninfo(engine)
        self._callbacks: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while a connection listens (tests wait for it)

    def on(self, table: str, callback: Callable[[], None]) -> None:
        if table not in TABLES:
            raise ValueError(f"no trigger notifies changes of {table!r}")
        self._callbacks[table].append(callback)

    def start(self) -> ChangeListener:
        self._thread = threading.Thread(target=self._run, name="sdi-change-listener", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _tell(self, tables: set[str]) -> None:
        for table in tables:
            for callback in self._callbacks.get(table, ()):
                try:
                    callback()
                except Exception:  # logged: one callback failing must not stop the others
                    logger.exception("change listener callback for %s failed", table)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.listening.set()
                    if not first:  # changes while the connection was lost were not told: forget all
                        self._tell(set(TABLES))
                    first = False
                    while not self._stop.is_set():  # each notification handled as it comes
                        for note in conn.notifies(timeout=POLL_S):
                            self._tell({note.payload} & set(TABLES))
            except psycopg.Error as exc:
                self.listening.clear()
                logger.warning("change listener: %s; the caches still expire within a second", exc)
                self._stop.wait(RETRY_S)
        self.listening.clear()
