"""``POST /stac/collections``: an agency creates a raster collection (STAC API – Transactions' *create
collection*), so its flights and scenes have somewhere to go without a code change.

The body is a STAC Collection: ``id`` (lower case, digits, ``_`` and ``-``), ``title`` (Vietnamese,
required), ``description``, ``license``, ``keywords``, and the platform's own fields: ``sdi:kind``
(rgb | multispectral | sentinel2 | dem | categorical: the COG profile), ``sdi:access_level``
(public | internal | restricted, default internal), ``sdi:title_en``, ``sdi:description_en``,
``sdi:bands`` (STAC eo common names for files that do not name their bands), ``sdi:owner`` (admins
only; staff create collections for their own agency). 201 with the collection as ``GET`` shows it.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.stac import collection_doc, stac_base
from rasters.collections import CollectionSpec, create_collection, share_collection
from sdi.callers import Caller
from sdi.errors import ForbiddenError, InvalidCredentialsError, InvalidInputError
from sdi.models import RasterCollection

router = APIRouter(prefix="/stac", tags=["STAC"])
MAX_BODY = 64 * 1024


async def _json_body(request: Request) -> object:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise InvalidInputError(f"Thân yêu cầu quá lớn / the body is over {MAX_BODY:,} bytes")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidInputError("Thân yêu cầu phải là JSON / the body must be JSON") from exc


@router.post("/collections", status_code=201, responses={
    201: {"description": "Đã tạo / created"}, 401: {"description": "no key"},
    403: {"description": "for another agency"}, 409: {"description": "the id is taken"}})
async def create(request: Request, who: Caller) -> JSONResponse:
    """Tạo bộ sưu tập ảnh / create a raster collection (a STAC Collection with the sdi: fields above)."""
    if who.anonymous:
        raise InvalidCredentialsError("Cần khoá API của cơ quan / creating a collection needs an agency's API key")
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise InvalidInputError("Thân yêu cầu phải là một STAC Collection / the body must be a STAC Collection")
    owner = body.get("sdi:owner") or who.agency
    if owner != who.agency and who.role != "admin":
        raise ForbiddenError(f"Chỉ tạo cho cơ quan mình / staff create collections for their own agency "
                             f"({who.agency}), not for {owner!r}")
    keywords = body.get("keywords") or []
    try:
        spec = CollectionSpec.model_validate({
            "id": body.get("id"), "kind": body.get("sdi:kind"), "title_vi": body.get("title") or "",
            "title_en": body.get("sdi:title_en") or body.get("title") or "",
            "description_vi": body.get("description") or "", "description_en": body.get("sdi:description_en") or "",
            "keywords": keywords, "owner": owner, "licence": body.get("license") or "other",
            "access_level": body.get("sdi:access_level") or "internal", "bands": body.get("sdi:bands") or []})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInputError(f"Bộ sưu tập không hợp lệ / invalid collection: {problems}") from exc
    row = await asyncio.to_thread(create_collection, request.app.state.engine, spec)
    base = stac_base(request)
    return JSONResponse(collection_doc(row, base, None), status_code=201,
                        headers={"Location": f"{base}/collections/{row.id}"})


def _grants_doc(row: RasterCollection) -> JSONResponse:
    return JSONResponse({"collection": row.id, "owner": row.owner, "grants": row.grants})


@router.put("/collections/{collection_id}/grants/{agency}", responses={
    200: {"description": "the collection's grants"}, 400: {"description": "unknown agency or permission"},
    401: {"description": "no key"}, 403: {"description": "not the owner"}, 404: {"description": "no such collection"}})
async def grant(collection_id: str, agency: str, request: Request, who: Caller) -> JSONResponse:
    """Chia sẻ bộ sưu tập ảnh / share a raster collection with an agency: body ``{"permission": "read" | "edit"}``
    (edit: may also add items)."""
    if who.anonymous:
        raise InvalidCredentialsError("Cần khoá API của cơ quan / sharing needs an agency's API key")
    body = await _json_body(request)
    permission = body.get("permission") if isinstance(body, dict) else None
    if permission not in ("read", "edit"):
        raise InvalidInputError('Cần {"permission": "read" | "edit"} / the body must be {"permission": "read" | '
                                '"edit"}')
    row = await asyncio.to_thread(share_collection, request.app.state.engine, collection_id, agency, permission, who)
    return _grants_doc(row)


@router.delete("/collections/{collection_id}/grants/{agency}", responses={
    200: {"description": "the collection's grants"}, 401: {"description": "no key"},
    403: {"description": "not the owner"}, 404: {"description": "no such collection"}})
async def revoke_grant(collection_id: str, agency: str, request: Request, who: Caller) -> JSONResponse:
    """Thôi chia sẻ bộ sưu tập ảnh / take an agency's grant on a raster collection back."""
    if who.anonymous:
        raise InvalidCredentialsError("Cần khoá API của cơ quan / sharing needs an agency's API key")
    row = await asyncio.to_thread(share_collection, request.app.state.engine, collection_id, agency, None, who)
    return _grants_doc(row)
