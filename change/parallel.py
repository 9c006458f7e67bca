"""Windows in parallel: an ordered, bounded map over any ``concurrent.futures.Executor``."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor


def imap(executor: Executor | None, workers: int, fn: Callable, jobs: Iterable[tuple], ahead: int) -> Iterator:
    """``fn(*job)`` for each job, in order, in parallel, with at most ``ahead`` jobs submitted and not yet
    consumed: results (pieces) do not pile up in futures, and no worker waits for a batch to end."""
    if executor is None and workers <= 1:
        yield from (fn(*job) for job in jobs)
        return
    pool = executor or ThreadPoolExecutor(workers)
    pending: deque[Future] = deque()
    try:
        for job in jobs:
            pending.append(pool.submit(fn, *job))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        if executor is None:
            pool.shutdown(wait=True)

