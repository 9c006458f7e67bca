"""The route class of every raster endpoint: errors, audit, caching, body size.

TiTiler's factories build plain FastAPI routes; this ``APIRoute`` wraps each handler so that

- rio-tiler's and rasterio's errors become ``application/problem+json`` with a precise 4xx
  (a tile outside the raster is a **404**, a bad band or expression a 400) and never a stack
  trace (TiTiler installs app-wide handlers for this, with its own JSON; ours stay in ``/rasters``);
- a wrong key is a 401 with ``WWW-Authenticate``, as at the OGC API;
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
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from rasterio.errors import CRSError, RasterioError, RasterioIOError
from rio_tiler import errors as rte
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from api.errors import problem
from api.ogc.gateway import invalid_key
from sdi.errors import SDIError
from sdi.models import AccessLogEntry
from tiles.params import Unauthenticated

logger = logging.getLogger(__name__)

NOT_FOUND = "Không tìm thấy / Not found"
BAD_REQUEST = "Yêu cầu không hợp lệ / Bad request"

#: rio-tiler errors that mean "nothing there" (404) or "bad request" (400).
OUTSIDE = (rte.TileOutsideBounds, rte.PointOutsideBounds, rte.EmptyMosaicError, rte.NoAssetFoundError)
BAD = (rte.InvalidExpression, rte.InvalidBandName, rte.MissingBands, rte.InvalidFormat, rte.InvalidColorFormat,
       rte.InvalidColorMapName, rte.InvalidBufferSize, rte.InvalidBounds, rte.InvalidGeographicBounds,
       rte.InvalidMosaicMethod, rte.MaxArraySizeError, rte.InvalidPointDataError, CRSError)


def _status(exc: BaseException) -> int:
    if isinstance(exc, SDIError):
        return exc.status
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, RequestValidationError | Unauthenticated):
        return 400 if isinstance(exc, RequestValidationError) else 401
    if isinstance(exc, OUTSIDE):
        return 404
    if isinstance(exc, BAD):
        return 400
    return 500


def error_response(exc: BaseException, request: Request) -> Response | None:
    """The problem+json answer to ``exc``; None for errors the application's handlers answer."""
    path = request.url.path
    if isinstance(exc, Unauthenticated):
        return invalid_key(path)
    if isinstance(exc, SDIError | HTTPException | RequestValidationError):
        return None
    if isinstance(exc, OUTSIDE):
        return problem(404, NOT_FOUND, f"Ngoài phạm vi ảnh / outside the raster: {exc}", request)
    if isinstance(exc, BAD):
        return problem(400, BAD_REQUEST, f"{exc}", request)
    if isinstance(exc, RasterioIOError | RasterioError):
        logger.error("raster read failed on %s", path, exc_info=exc)
        return problem(500, "Lỗi hệ thống / Internal error",
                       "Không đọc được tệp ảnh / the raster file could not be read; see the server log", request)
    return None


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
                await _audit(request, _status(exc))
                answer = error_response(exc, request)
                if answer is None:
                    raise
                return answer
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
            return problem(413, "Yêu cầu quá lớn / Request too large", f"Tối đa / at most {limit} bytes", request)
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
