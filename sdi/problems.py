"""The one error table: every error a request can end in, as RFC 9457 ``application/problem+json``.

Routes and services raise; nothing else turns an error into a response. The table:

- the platform's own errors (``sdi.errors.SDIError`` and subclasses) carry their status and title;
- FastAPI's request validation → 400, Starlette's ``HTTPException`` → its status;
- rio-tiler's errors: a tile, point or mosaic outside the data → 404; a bad band, expression,
  format, colour map, size or bounds → 400 (TiTiler installs app-wide handlers with its own
  JSON; these are ours);
- rasterio failing to read a stored COG → 500, without the path;
- the database refusing a value (psycopg's and SQLAlchemy's ``DataError``: a NUL byte, a number
  out of range) → 400;
- a query cancelled by PostgreSQL's ``statement_timeout`` (``SDI_STATEMENT_TIMEOUT_MS``) → 503 saying so;
- anything else → 500.

A 5xx never carries internal text (its detail is a fixed sentence; the error goes to the log);
a 401 always carries the ``WWW-Authenticate`` challenge, so QGIS, GDAL and browsers know how to
authenticate. ``install(app)`` puts the handlers on a FastAPI app; the OGC gateway, which answers
from ASGI scopes, uses ``problem_at`` and ``TITLES`` directly.
"""

from __future__ import annotations

import logging

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg.errors import QueryCanceled
from rasterio.errors import CRSError, RasterioError
from rio_tiler import errors as rte
from starlette.exceptions import HTTPException

from sdi.errors import QUERY_TIMEOUT, DatabaseError, QueryTimeoutError, SDIError, ValidationFailedError
from sdi.logs import request_id

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: sent with every 401
CHALLENGE = 'Bearer realm="sdi", Basic realm="sdi"'
SERVER_ERROR = "Lỗi phía máy chủ / server error; see the server log"

#: titles by status, for answers that carry no domain error
TITLES = {400: "Yêu cầu không hợp lệ / Bad request", 401: "Cần đăng nhập / Authentication required",
          403: "Không có quyền / Forbidden", 404: "Không tìm thấy / Not found",
          405: "Không cho phép / Method not allowed", 409: "Xung đột / Conflict",
          413: "Yêu cầu quá lớn / Request too large", 415: "Định dạng không hỗ trợ / Unsupported format",
          422: "Dữ liệu không đạt kiểm tra / Unprocessable feature", 429: "Quá nhiều yêu cầu / Too many requests",
          500: "Lỗi hệ thống / Internal error", 501: "Chưa hỗ trợ / Not implemented",
          503: "Dịch vụ chưa sẵn sàng / Service unavailable"}

#: rio-tiler errors that mean "nothing there" (404) or "bad request" (400)
OUTSIDE = (rte.TileOutsideBounds, rte.PointOutsideBounds, rte.EmptyMosaicError, rte.NoAssetFoundError)
BAD = (rte.InvalidExpression, rte.InvalidBandName, rte.MissingBands, rte.InvalidFormat, rte.InvalidColorFormat,
       rte.InvalidColorMapName, rte.InvalidBufferSize, rte.InvalidBounds, rte.InvalidGeographicBounds,
       rte.InvalidMosaicMethod, rte.MaxArraySizeError, rte.InvalidPointDataError, CRSError)
#: the database could not run the query (cancelled by statement_timeout, or gone)
OPERATIONAL = (psycopg.OperationalError, sqlalchemy.exc.OperationalError)
#: the database refused a value the caller sent
DATA = (psycopg.DataError, sqlalchemy.exc.DataError)


def problem_at(status: int, title: str, detail: str, instance: str, **extra: object) -> JSONResponse:
    """An RFC 9457 problem for the path ``instance`` (401s carry the authentication challenge)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": instance,
            **extra}
    response = JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)
    if status == 401:
        response.headers["WWW-Authenticate"] = CHALLENGE
    return response


def problem(status: int, title: str, detail: str, request: Request, **extra: object) -> JSONResponse:
    return problem_at(status, title, detail, str(request.url.path), **extra)


def timed_out(exc: BaseException) -> bool:
    """PostgreSQL cancelled the query (``statement_timeout``), raised as is or wrapped by SQLAlchemy."""
    return isinstance(exc, QueryCanceled) or isinstance(getattr(exc, "orig", None), QueryCanceled)


def status_of(exc: BaseException) -> int:
    """The HTTP status ``exc`` is answered with."""
    if timed_out(exc):
        return 503
    if isinstance(exc, SDIError):
        return exc.status
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, (RequestValidationError, *DATA, *BAD)):
        return 400
    if isinstance(exc, OUTSIDE):
        return 404
    return 500


def answer(exc: BaseException, instance: str) -> JSONResponse:
    """The problem+json answer to ``exc`` for the path ``instance``: the table above."""
    if timed_out(exc) and not isinstance(exc, SDIError):
        exc = QueryTimeoutError(QUERY_TIMEOUT)
    elif isinstance(exc, OPERATIONAL):  # the database went away mid-request
        logger.error("database unavailable on %s", instance, exc_info=exc)
        exc = DatabaseError("Cơ sở dữ liệu không phản hồi / the database is not reachable")
    status = status_of(exc)
    extra: dict[str, object] = {}
    if status >= 500:
        if not (isinstance(exc, SDIError) and exc.public_detail):
            logger.error("%s on %s", type(exc).__name__, instance, exc_info=exc)
        title = exc.title if isinstance(exc, SDIError) else TITLES[500]
        if isinstance(exc, SDIError) and exc.public_detail:  # written for callers (sdi.errors)
            return problem_at(status, title, exc.detail, instance, **exc.extra)
        if isinstance(exc, RasterioError):
            return problem_at(500, title, "Không đọc được tệp ảnh / the raster file could not be read; see the "
                              "server log", instance)
        return problem_at(status, title, SERVER_ERROR, instance, request_id=request_id())
    if isinstance(exc, SDIError):
        title, detail = exc.title, exc.detail
        code = getattr(exc, "code", None)
        if code is not None:
            extra["code"] = code
        if isinstance(exc, ValidationFailedError):
            extra["report"] = exc.report.model_dump(mode="json")
    elif isinstance(exc, RequestValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
        title, detail = "Tham số không hợp lệ / invalid request", "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        extra["errors"] = errors
    elif isinstance(exc, HTTPException):
        title = detail = str(exc.detail)
    elif isinstance(exc, OUTSIDE):
        title, detail = TITLES[404], f"Ngoài phạm vi ảnh / outside the raster: {exc}"
    elif isinstance(exc, DATA):
        orig = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's error
        title, detail = TITLES[400], f"Giá trị không hợp lệ / invalid value: {str(orig).splitlines()[0]}"
    else:
        title, detail = TITLES.get(status, TITLES[400]), str(exc)
    return problem_at(status, title, detail, instance, **extra)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    return answer(exc, str(request.url.path))


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` from the table."""
    for kind in (SDIError, RequestValidationError, HTTPException, *OUTSIDE, *BAD, *DATA, *OPERATIONAL, RasterioError,
                 Exception):
        app.add_exception_handler(kind, _handle)
