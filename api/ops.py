"""Operations: ``/health`` (liveness), ``/ready`` (readiness) and ``/metrics`` (Prometheus).

- ``/health`` answers as long as the process serves requests: no database, no store (an orchestrator
  restarts a process whose liveness fails; a database outage must not restart every worker);
- ``/metrics``: Prometheus's text format, for **keyed callers only** (any valid key; Prometheus sends
  one with ``authorization: {credentials: …}``): anonymous callers get 401. The labels are route
  templates, never raw paths (``sdi.metrics``), so no restricted layer's id or any key is in them;
- ``/ready`` checks each part a request needs — the database answers, PostGIS is there, the raster
  store can be used (a folder written and read back, or the S3 bucket listed) — and answers 200 with
  each part's status, or 503 problem+json naming the parts that fail (the cause goes to the log, not
  to the caller: it may name hosts and paths).
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, text

from rasters.store import probe
from sdi import metrics
from sdi.callers import Caller
from sdi.errors import InvalidCredentialsError, NotReadyError
from sdi.settings import Settings

logger = logging.getLogger(__name__)
router = APIRouter(tags=["Vận hành / Operations"])

#: what each part is, for the 503's detail
PARTS = {"database": "cơ sở dữ liệu / the database", "postgis": "PostGIS",
         "store": "kho ảnh / the raster store"}


@router.get("/health")
def health() -> dict:
    """Còn sống / liveness: the process answers (cheap: no database, no store; see ``/ready``)."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """Sẵn sàng / readiness: the database, PostGIS and the raster store, each with its status."""
    engine: Engine = request.app.state.engine
    settings: Settings = request.app.state.settings
    db, store = await asyncio.gather(asyncio.to_thread(_database, engine), asyncio.to_thread(_store, settings))
    parts = {**db, "store": store}
    failing = [name for name, state in parts.items() if state in ("unreachable", "missing")]
    if failing:
        raise NotReadyError("Chưa sẵn sàng / not ready: " + ", ".join(PARTS[p] for p in failing)
                            + " — không dùng được / not usable; see the server log",
                            failing=failing, checks=parts)
    return JSONResponse({"status": "ready", "checks": parts})


@router.get("/metrics", include_in_schema=False)
def prometheus(who: Caller) -> Response:
    """Số đo / metrics in Prometheus's text format (all workers), for keyed callers."""
    if who.anonymous:
        raise InvalidCredentialsError("Số đo cần khoá API / metrics need an API key (X-API-Key or Bearer)")
    body, media_type = metrics.exposition()
    return Response(body, media_type=media_type)


def _database(engine: Engine) -> dict[str, str]:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            try:
                version = conn.execute(text("SELECT postgis_lib_version()")).scalar()
            except Exception as exc:  # noqa: BLE001 - any failure here means PostGIS is not usable
                logger.error("readiness: PostGIS missing: %s", exc)
                return {"database": "ok", "postgis": "missing"}
    except Exception as exc:  # noqa: BLE001 - any failure to connect or query means not ready
        logger.error("readiness: database unreachable: %s", exc)
        return {"database": "unreachable", "postgis": "unreachable"}
    return {"database": "ok", "postgis": str(version)}


def _store(settings: Settings) -> str:
    try:
        return f"ok ({probe(settings)})"
    except Exception as exc:  # noqa: BLE001 - StoreError or anything else: the store is not usable
        logger.error("readiness: raster store unusable: %s", exc)
        return "unreachable"
