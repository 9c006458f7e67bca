"""Prometheus metrics (prometheus-client): requests, latency, tiles, OGC items, the database pool, jobs.

- ``Metrics`` (pure ASGI middleware, installed by ``api.app``): requests by method, **route template**
  and status, latency histograms by route template; raster tile and OGC items requests. The label is
  always the template a request matched (``/rasters/{item_id}/tiles/...``; under the OGC mount the
  path with every identifier replaced, ``/ogc/collections/{collectionId}/items``), never the raw path:
  no layer id, item id or key ever becomes a label, and unknown paths share one label;
- ``watch_pool(engine)``: the SQLAlchemy pool's size and checked-out connections (pool events);
- ``job(kind)``: count and duration of loads, ingests and change runs, by outcome.

With several ``sdi serve`` workers, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``sdi serve`` under the state
dir before the workers start) makes prometheus-client write each process's values to files, and
``exposition()`` merges them: any worker answers for all.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as mp
from sqlalchemy import Engine, event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("sdi_http_requests_total", "HTTP requests by route template and status",
                   ["method", "route", "status"])
LATENCY = Histogram("sdi_http_request_duration_seconds", "HTTP request latency by route template",
                    ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
TILES = Counter("sdi_raster_tiles_total", "Raster tile requests by status", ["status"])
OGC_ITEMS = Counter("sdi_ogc_items_requests_total", "OGC API items requests (pages and features) by status",
                    ["status"])
POOL_SIZE = Gauge("sdi_db_pool_size", "SQLAlchemy pool size (connections kept), all processes",
                  multiprocess_mode="livesum")
POOL_OUT = Gauge("sdi_db_pool_checked_out", "Database connections checked out of the pool, all processes",
                 multiprocess_mode="livesum")
JOBS = Counter("sdi_jobs_total", "Loads, ingests and change runs by outcome", ["kind", "outcome"])
JOB_SECONDS = Histogram("sdi_job_duration_seconds", "Duration of loads, ingests and change runs", ["kind"],
                        buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600))

#: the only words kept in an OGC path's label; anything else is an identifier or an unknown path
_OGC_WORDS = {"collections", "items", "tiles", "queryables", "schema", "sortables", "conformance", "openapi",
              "processes", "execution", "jobs", "results", "api", "tilejson", "tilejson.json", "WebMercatorQuad",
              "WorldCRS84Quad", "tileMatrixSets", "metadata"}
_OGC_IDS = [(re.compile(r"/collections/[^/]+"), "/collections/{collectionId}"),
            (re.compile(r"/items/[^/]+"), "/items/{featureId}"),
            (re.compile(r"/tiles/([^/{]+)/[^/]+/[^/]+/[^/]+$"), r"/tiles/\1/{tileMatrix}/{tileRow}/{tileCol}"),
            (re.compile(r"/jobs/[^/]+"), "/jobs/{jobId}"),
            (re.compile(r"/processes/[^/]+"), "/processes/{processId}")]


def route_of(scope: Scope, root_path: str = "") -> str:
    """The route template ``scope`` matched (``"unmatched"`` for none); ``root_path`` as it was on the way in.

    Under a mount (the OGC API: pygeoapi behind the gateway) the template is the mount's path plus the
    rest of the path with every identifier replaced, whether the gateway or pygeoapi answered."""
    mount = scope.get("root_path", "")[len(root_path):]
    if mount:
        rest = scope["path"][len(root_path) + len(mount):] or "/"
        for pattern, template in _OGC_IDS:
            rest = pattern.sub(template, rest)
        words = [w for w in rest.split("/") if w]
        if not all(w in _OGC_WORDS or w.startswith("{") for w in words):
            return mount + "/{other}"
        return mount + rest
    path = getattr(scope.get("route"), "path", None)
    if path is None:
        return "unmatched"
    return _prefixed(path, scope["path"][len(root_path):], scope.get("path_params", {}))


def _prefixed(template: str, path: str, params: dict[str, Any]) -> str:
    """The full template of a route of an included router: FastAPI puts the router's own route (its
    path without the prefixes) in the scope, so the prefix is read back from the path, its parameters
    (``/rasters/{item_id}``) put back from the path parameters the route does not have itself."""
    tail = [s for s in template.split("/") if s]
    segments = [s for s in path.split("/") if s]
    if len(segments) <= len(tail) or ":path}" in template:
        return template
    own = set(re.findall(r"{(\w+)", template))
    named = {str(v): k for k, v in params.items() if k not in own}
    prefix = ["{" + named[s] + "}" if s in named else s for s in segments[: len(segments) - len(tail)]]
    return "/" + "/".join(prefix + tail)


class Metrics:
    """ASGI middleware: counts and times every HTTP request by route template (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        root_path = scope.get("root_path", "")

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route, method = route_of(scope, root_path), scope["method"]
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
            if "/tiles/" in route and "{z}" in route and route.startswith("/rasters"):
                TILES.labels(str(status)).inc()
            elif route.endswith(("/items", "/items/{featureId}")) and route.startswith("/ogc/"):
                OGC_ITEMS.labels(str(status)).inc()


def watch_pool(engine: Engine) -> None:
    """Keep the pool gauges up to date from the pool's own events."""
    POOL_SIZE.inc(engine.pool.size())  # type: ignore[attr-defined]
    event.listen(engine, "checkout", lambda *_: POOL_OUT.inc())
    event.listen(engine, "checkin", lambda *_: POOL_OUT.dec())


def unwatch_pool(engine: Engine) -> None:
    POOL_SIZE.dec(engine.pool.size())  # type: ignore[attr-defined]


@contextmanager
def job(kind: str) -> Iterator[None]:
    """Count and time one job (``load``, ``ingest``, ``change``) by outcome (``ok`` / ``refused`` / ``error``)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    except Exception as exc:
        outcome = "refused" if getattr(exc, "status", 500) < 500 else "error"
        raise
    finally:
        JOBS.labels(kind, outcome).inc()
        JOB_SECONDS.labels(kind).observe(time.perf_counter() - started)


def timed_job[**P, R](kind: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator form of ``job``."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with job(kind):
                return fn(*args, **kwargs)

        return run

    return wrap


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric: of all worker processes in multiprocess mode."""
    registry: Any
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
    else:
        registry = REGISTRY  # this process's
    return generate_latest(registry), CONTENT_TYPE_LATEST


def process_exit(pid: int | None = None) -> None:
    """A worker stops: its live gauges (pool) stop counting."""
    if os.environ.get(MULTIPROC_ENV):
        mp.mark_process_dead(pid or os.getpid())
