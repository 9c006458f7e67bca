"""Per-request cost of counting a rate limit: the shared PostgreSQL windows (``database``) beside the
per-process moving windows (``memory://``), the same ``limits`` strategy call, in one run.

    .venv/bin/python benchmarks/ratelimit_cost.py [N]
"""

from __future__ import annotations

import sys
import time

from limits import parse, storage, strategies
from sqlalchemy import text

from sdi.database import make_engine
from sdi.ratelimit_store import DatabaseStorage
from sdi.settings import Settings


def per_call_us(limiter: strategies.RateLimiter, n: int) -> float:
    item = parse("1000000/minute")
    started = time.perf_counter()
    for i in range(n):
        limiter.hit(item, "tiles", f"10.0.0.{i % 50}")
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    engine = make_engine(Settings())
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rate_limit_windows"))
    memory = per_call_us(strategies.MovingWindowRateLimiter(storage.MemoryStorage()), n)
    shared = per_call_us(strategies.FixedWindowRateLimiter(DatabaseStorage(engine)), n)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rate_limit_windows"))
    print(f"{n} hits, 50 clients: memory:// {memory:.1f} µs/hit, database {shared:.1f} µs/hit, "
          f"ratio {shared / memory:.1f}×, extra {shared - memory:.0f} µs per limited request")


if __name__ == "__main__":
    main()
