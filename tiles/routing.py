"""The route class of every raster endpoint: errors, audit, caching, body size.

TiTiler's factories build plain FastAPI routes; this ``APIRoute`` wraps each handler so that

- every error is answered from the one error table (``sdi.problems``: a tile outside the raster
  is a **404**, a bad band or expression a 400, a wrong key a 401 with ``WWW-Authenticate``,
  never a stack trace), after its status is written to the audit log when it must be;
- every read of a *restricted* collection is written to ``access_log`` before the response
  leaves (the rule of the vector layers);
- a request body (a GeoJSON crop) is counted as it streams in and refused past the limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from sdi import problems
from sdi.models import AccessLogEntry

logger = logging.getLogger(__name__)


class RasterRoute(APIRoute):
    """``APIRoute`` with the raster errors, audit and body limit (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if request.method == "POST":
                too_big = await _limit_body(request)
                if too_big is not None:
                    return too_big
            try:
                response = await handler(request)
            except Exception as exc:  # noqa: BLE001 - mapped, logged or re-raised below
                await _audit(request, problems.status_of(exc))
                return problems.answer(exc, request.url.path)
            await _audit(request, response.status_code)
            _cache_headers(request, response)
            return response

        return route


async def _limit_body(request: Request) -> Response | None:
    """Read the body up to the limit (then FastAPI parses the bytes kept on the request)."""
    limit = request.app.state.settings.ogc_max_body_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return problems.problem(413, problems.TITLES[413], f"Tối đa / at most {limit} bytes", request)
        chunks.append(chunk)
    request._body = b"".join(chunks)  # Starlette's own cache of the body, which FastAPI reads next
    return None


def _cache_headers(request: Request, response: Response) -> None:
    collection = getattr(request.state, "raster_collection", None)
    if collection is None or response.status_code >= 300 or "cache-control" in response.headers:
        return
    scope = "public" if collection.access_level == "public" else "private"
    response.headers["Cache-Control"] = f"{scope}, max-age=300"
    response.headers["Vary"] = "Authorization, X-API-Key"


async def _audit(request: Request, status: int) -> None:
    """Log a read of a restricted collection (who, what, status) before the response leaves."""
    collection = getattr(request.state, "raster_collection", None)
    if collection is None or collection.access_level != "restricted":
        return
    who = request.state.principal
    qs = request.url.query
    entry = AccessLogEntry(key_id=who.key_id, key_name=who.name, layer_id=collection.id[:63], action="read",
                           method=request.method, path=request.url.path + (f"?{qs}" if qs else ""), status=status)

    def write() -> None:
        with Session(request.app.state.engine) as session:
            session.add(entry)
            session.commit()

    await asyncio.to_thread(write)
