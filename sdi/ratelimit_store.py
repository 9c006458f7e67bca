"""Rate-limit windows in PostgreSQL (``SDI_RATE_LIMIT_STORAGE=database``), shared by every worker and replica.

A ``limits`` storage (the library keeps the strategy — fixed windows — and the keys; this class only
counts): one row of the UNLOGGED table ``rate_limit_windows`` (migration 0014) per client × family ×
limit, incremented with one upsert per request, which restarts the window when it has expired. The
clock is the database's (``now()``), the same for every replica. Expired rows are removed now and then
by the replica that happens to count.

Written here because ``limits`` ships no PostgreSQL storage (only memory, Redis, Memcached, MongoDB),
and the SDI already has a PostgreSQL every replica shares.
"""

from __future__ import annotations

import itertools
import time

from limits.storage import Storage
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

_INCR = text("""
INSERT INTO rate_limit_windows AS w (key, hits, expires_at)
VALUES (:key, :amount, now() + make_interval(secs => :expiry))
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN w.expires_at <= now() THEN excluded.hits ELSE w.hits + excluded.hits END,
    expires_at = CASE WHEN w.expires_at <= now() THEN excluded.expires_at ELSE w.expires_at END
RETURNING hits""")
_GET = text("SELECT hits FROM rate_limit_windows WHERE key = :key AND expires_at > now()")
_EXPIRY = text("SELECT extract(epoch FROM expires_at) FROM rate_limit_windows WHERE key = :key")
_PURGE = text("DELETE FROM rate_limit_windows WHERE expires_at < now() - interval '1 minute'")
PURGE_EVERY = 1000  # increments between two purges of expired windows (per process)


class DatabaseStorage(Storage):
    """The windows of ``limits``' fixed-window strategy in the SDI database (see the module)."""

    STORAGE_SCHEME = None  # built with the engine, not from a URI

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self._count = itertools.count(1)

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self.engine.begin() as conn:
            hits = conn.execute(_INCR, {"key": key, "amount": amount, "expiry": float(expiry)}).scalar_one()
            if next(self._count) % PURGE_EVERY == 0:
                conn.execute(_PURGE)
        return int(hits)

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(_GET, {"key": key}).scalar() or 0)

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as conn:
            value = conn.execute(_EXPIRY, {"key": key}).scalar()
        return float(value) if value is not None else time.time()

    def check(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(text("DELETE FROM rate_limit_windows")).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM rate_limit_windows WHERE key = :key"), {"key": key})
