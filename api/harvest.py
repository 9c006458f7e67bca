"""Harvest sources over HTTP (admins only): ``GET /harvest/sources``, ``POST /harvest/sources`` (JSON: ``url``,
``agency``, ``access``, ``collections``, ``every``, ``id``) and ``POST /harvest/sources/{id}/run``. The work is
``layers.harvest``'s; errors are the one table's (``sdi.problems``)."""

from __future__ import annotations

import json

import anyio
from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from layers.harvest import add_source, list_sources, run_source
from sdi.access import Principal
from sdi.callers import Caller
from sdi.errors import ForbiddenError, InvalidCredentialsError, InvalidInputError

router = APIRouter(tags=["Thu thập / harvest"])


class NewSource(BaseModel):
    """The body of ``POST /harvest/sources``."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000)
    agency: str = "ubnd"
    access: str = "internal"
    collections: list[str] | None = None
    every: str | None = None
    id: str | None = None


def _admin(who: Principal) -> None:
    if who.anonymous:
        raise InvalidCredentialsError("Cần khoá API quản trị / harvest sources need an admin's API key")
    if who.role != "admin":
        raise ForbiddenError("Chỉ quản trị viên / only admins manage harvest sources")


@router.get("/harvest/sources", responses={401: {"description": "no key"}, 403: {"description": "not an admin"}})
async def sources(request: Request, who: Caller) -> JSONResponse:
    """Các nguồn thu thập / the registered harvest sources, their layers and last outcome."""
    _admin(who)
    found = await anyio.to_thread.run_sync(list_sources, request.app.state.engine)
    return JSONResponse(jsonable_encoder({"sources": found}), headers={"Cache-Control": "private, no-store"})


@router.post("/harvest/sources", status_code=201, responses={
    400: {"description": "not a URL, not allowed, not an OGC service, unknown collection"},
    401: {"description": "no key"}, 403: {"description": "not an admin"}, 409: {"description": "registered already"},
    422: {"description": "the harvested data failed validation"}})
async def add(request: Request, who: Caller) -> JSONResponse:
    """Đăng ký nguồn / register an OGC API Features or WFS 2.0 service; its collections become layers."""
    _admin(who)
    raw = await request.body()
    if len(raw) > 64 * 1024:
        raise InvalidInputError("Thân yêu cầu quá lớn / the body is over 64 KiB")
    try:
        body = NewSource.model_validate(json.loads(raw or b"null"))
    except (ValueError, ValidationError) as exc:
        raise InvalidInputError('Cần JSON {"url": …, "agency", "access", "collections", "every", "id"} / the body '
                                f'must be a JSON object with "url": {str(exc).splitlines()[0][:200]}') from exc
    source = await anyio.to_thread.run_sync(lambda: add_source(
        request.app.state.engine, request.app.state.settings, body.url, agency=body.agency,
        access_level=body.access, collections=body.collections, every=body.every, source_id=body.id, who=who))
    return JSONResponse(jsonable_encoder(source), status_code=201)


@router.post("/harvest/sources/{source_id}/run", responses={
    401: {"description": "no key"}, 403: {"description": "not an admin"}, 404: {"description": "no such source"}})
async def run(source_id: str, request: Request, who: Caller) -> JSONResponse:
    """Làm mới nguồn / refresh a source now (its ``last_error`` says what failed; failed layers keep their copy)."""
    _admin(who)
    source = await anyio.to_thread.run_sync(run_source, request.app.state.engine, request.app.state.settings,
                                            source_id)
    return JSONResponse(jsonable_encoder(source))
