"""The one place that maps domain errors to HTTP: RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sdi.errors import SDIError, ValidationFailedError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


#: sent with every 401, so clients (QGIS, GDAL, browsers) know how to authenticate
CHALLENGE = 'Bearer realm="sdi", Basic realm="sdi"'


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


async def _sdi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SDIError)
    if exc.status >= 500:
        logger.error("%s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        return problem(exc.status, exc.title, "Lỗi phía máy chủ / server error; see the server log", request)
    extra = {}
    if isinstance(exc, ValidationFailedError):
        extra["report"] = exc.report.model_dump(mode="json")
    return problem(exc.status, exc.title, exc.detail, request, **extra)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()]
    return problem(400, "Tham số không hợp lệ / invalid request",
                   "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors),
                   request, errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, str(exc.detail), str(exc.detail), request)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s", request.url.path, exc_info=exc)
    return problem(500, "Lỗi hệ thống / Internal error", "Lỗi phía máy chủ / server error", request)


def add_exception_handlers(app: FastAPI) -> None:
    """Install the handlers on ``app``."""
    app.add_exception_handler(SDIError, _sdi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
