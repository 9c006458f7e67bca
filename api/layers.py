"""``POST /layers``: an agency publishes a layer over HTTP (multipart upload), as ``sdi layers create``.

The file streams to the state folder (counted as it arrives, refused with 413 past
``SDI_MAX_UPLOAD_BYTES``, never held in memory: ``sdi.uploads``), then ``layers.publish.create_layer``
runs in a worker thread: one transaction, all or nothing. Form fields: ``file``, ``id``, ``title_vi``
(required), ``title_en``, ``access`` (public | internal | restricted, default internal), ``owner``
(admins only; staff publish for their own agency), ``key``, ``crs``, ``source_layer``,
``abstract_vi``, ``abstract_en``, ``licence``. 201 with the layer and its validation report.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from layers.exports_metadata import dcat, iso19139
from layers.metadata import parse_patch, update_metadata
from layers.publish import create_layer
from layers.sharing import access_log, share
from layers.sources import FORMATS
from layers.trash import unpublish
from sdi import uploads
from sdi.access import Principal
from sdi.callers import Caller, VisibleCatalog
from sdi.errors import (
    ForbiddenError,
    InvalidCredentialsError,
    InvalidInputError,
    NotFoundError,
    UnsupportedFormatError,
)

router = APIRouter(tags=["Lớp dữ liệu / layers"])

ACCESS = ("public", "internal", "restricted")


@router.post("/layers", status_code=201, responses={
    201: {"description": "Đã xuất bản / published"}, 401: {"description": "no key"},
    403: {"description": "another agency's layer"}, 409: {"description": "the id is taken"},
    413: {"description": "too large"}, 415: {"description": "not a supported format"},
    422: {"description": "the data failed validation; the report says why"}})
async def publish(request: Request, who: Caller) -> JSONResponse:
    """Xuất bản lớp mới / publish a new layer from a file (multipart: ``file`` and the form fields above)."""
    if who.anonymous:
        raise InvalidCredentialsError("Cần khoá API của cơ quan / publishing needs an agency's API key")
    settings = request.app.state.settings
    received = await uploads.receive(request, settings.state_dir / "uploads", settings.max_upload_bytes,
                                     "SDI_MAX_UPLOAD_BYTES")
    try:
        form = received.fields
        name = Path(received.filename or "").name
        suffix = Path(name).suffix.lower()
        if suffix not in FORMATS:
            raise UnsupportedFormatError(f"Định dạng không hỗ trợ / unsupported format {suffix or name!r}: use "
                                         f"{', '.join(sorted(FORMATS))}")
        owner = form.get("owner") or who.agency or ""
        if owner != who.agency and who.role != "admin":
            raise ForbiddenError(f"Chỉ xuất bản cho cơ quan mình / staff publish for their own agency "
                                 f"({who.agency}), not for {owner!r}")
        access = form.get("access", "internal")
        if access not in ACCESS:
            raise InvalidInputError(f"access phải là / must be one of {', '.join(ACCESS)}, not {access!r}")
        staged = received.path.with_name(f"{received.path.name}{suffix}")  # the driver follows the suffix
        received.path.rename(staged)
        received.path = staged
        limiter = getattr(request.app.state, "publish_limiter", None)
        if limiter is None:  # one publication at a time per process: each is CPU- and disk-bound
            limiter = request.app.state.publish_limiter = anyio.CapacityLimiter(1)
        layer, report = await anyio.to_thread.run_sync(lambda: create_layer(
            staged, form.get("id", ""), engine=request.app.state.engine, settings=settings,
            title_vi=form.get("title_vi", ""), title_en=form.get("title_en", ""), owner=owner, who=who,
            access_level=access,  # type: ignore[arg-type]  # checked above
            abstract_vi=form.get("abstract_vi", ""), abstract_en=form.get("abstract_en", ""),
            licence=form.get("licence", ""), key=form.get("key") or None, crs=form.get("crs") or None,
            source_layer=form.get("source_layer") or None, source_name=name), limiter=limiter)
    finally:
        received.path.unlink(missing_ok=True)
    body = {"layer": layer.model_dump(mode="json", exclude={"aliases", "required"}),
            "report": report.model_dump(mode="json")}
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    return JSONResponse(body, status_code=201, headers={"Location": f"{base}/layers/{layer.id}"})


@router.delete("/layers/{layer_id}", status_code=204, responses={
    204: {"description": "Đã gỡ / unpublished (restorable: sdi layers restore)"}, 401: {"description": "no key"},
    403: {"description": "another agency's layer"}, 404: {"description": "no such layer (or not visible)"}})
async def unpublish_layer(layer_id: str, request: Request, who: Caller, layers: VisibleCatalog) -> Response:
    """Gỡ lớp đã xuất bản / unpublish a layer (owning agency or admin); kept restorable for SDI_TRASH_DAYS."""
    if who.anonymous:
        raise InvalidCredentialsError("Cần khoá API của cơ quan / unpublishing needs an agency's API key")
    if layer_id not in layers:
        raise NotFoundError(f"Không có lớp / no layer {layer_id!r}")
    await anyio.to_thread.run_sync(unpublish, request.app.state.engine, layer_id, who)
    return Response(status_code=204)


@router.patch("/layers/{layer_id}", responses={
    200: {"description": "the layer's metadata as it now stands"}, 400: {"description": "a bad field, named"},
    401: {"description": "no key"}, 403: {"description": "another agency's layer"},
    404: {"description": "no such layer (or not visible)"}})
async def edit_metadata(layer_id: str, request: Request, who: Caller, layers: VisibleCatalog) -> JSONResponse:
    """Sửa siêu dữ liệu / edit a published layer's metadata (JSON: title_vi, title_en, abstract_vi, abstract_en,
    keywords, keywords_en, licence, attribution, contact, lineage, update_frequency, access_level,
    temporal_start, temporal_end, scale_denominator)."""
    if who.anonymous:
        raise InvalidCredentialsError("Cần khoá API của cơ quan / editing metadata needs an agency's API key")
    if layer_id not in layers:
        raise NotFoundError(f"Không có lớp / no layer {layer_id!r}")
    raw = await request.body()
    if len(raw) > 256 * 1024:
        raise InvalidInputError("Thân yêu cầu quá lớn / the body is over 256 KiB")
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise InvalidInputError("Thân yêu cầu phải là JSON / the body must be JSON") from exc
    patch = parse_patch(body)
    layer = await anyio.to_thread.run_sync(update_metadata, request.app.state.engine, layer_id, patch, who)
    return JSONResponse(layer.model_dump(mode="json", exclude={"aliases", "required"}))


async def _json_body(request: Request, limit: int = 64 * 1024) -> object:
    raw = await request.body()
    if len(raw) > limit:
        raise InvalidInputError(f"Thân yêu cầu quá lớn / the body is over {limit:,} bytes")
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise InvalidInputError("Thân yêu cầu phải là JSON / the body must be JSON") from exc


def _keyed(who: Principal, layer_id: str, layers: dict) -> None:
    if who.anonymous:
        raise InvalidCredentialsError("Cần khoá API của cơ quan / this needs an agency's API key")
    if layer_id not in layers:
        raise NotFoundError(f"Không có lớp / no layer {layer_id!r}")


@router.put("/layers/{layer_id}/grants/{agency}", responses={
    200: {"description": "the layer's grants"}, 400: {"description": "unknown agency or permission"},
    403: {"description": "not the owner"}})
async def grant(layer_id: str, agency: str, request: Request, who: Caller, layers: VisibleCatalog) -> JSONResponse:
    """Chia sẻ lớp với một cơ quan / share a layer with an agency: body ``{"permission": "read" | "edit"}``."""
    _keyed(who, layer_id, layers)
    body = await _json_body(request)
    permission = body.get("permission") if isinstance(body, dict) else None
    if permission not in ("read", "edit"):
        raise InvalidInputError('Cần {"permission": "read" | "edit"} / the body must be {"permission": "read" | '
                                '"edit"}')
    layer = await anyio.to_thread.run_sync(share, request.app.state.engine, layer_id, agency, permission, who)
    return JSONResponse({"layer": layer_id, "owner": layer.owner, "grants": layer.grants})


@router.delete("/layers/{layer_id}/grants/{agency}", responses={200: {"description": "the layer's grants"}})
async def revoke_grant(layer_id: str, agency: str, request: Request, who: Caller,
                       layers: VisibleCatalog) -> JSONResponse:
    """Thôi chia sẻ / take an agency's grant back."""
    _keyed(who, layer_id, layers)
    layer = await anyio.to_thread.run_sync(share, request.app.state.engine, layer_id, agency, None, who)
    return JSONResponse({"layer": layer_id, "owner": layer.owner, "grants": layer.grants})


@router.get("/layers/{layer_id}/access-log", responses={
    200: {"description": "restricted reads and edits, newest first"}, 403: {"description": "not the owner"}})
async def layer_access_log(layer_id: str, request: Request, who: Caller, layers: VisibleCatalog) -> JSONResponse:
    """Nhật ký truy cập / the layer's access log (owning agency and admins)."""
    _keyed(who, layer_id, layers)
    entries = await anyio.to_thread.run_sync(access_log, request.app.state.engine, layer_id, who)
    return JSONResponse({"layer": layer_id, "entries": entries}, headers={"Cache-Control": "private, no-store"})


def _base(request: Request) -> str:
    settings = request.app.state.settings
    return (settings.public_url or str(request.base_url)).rstrip("/")


@router.get("/layers/{layer_id}/metadata.xml", response_class=Response,
            responses={200: {"content": {"application/xml": {}}, "description": "ISO 19139"}})
async def iso_metadata(layer_id: str, request: Request, layers: VisibleCatalog) -> Response:
    """Siêu dữ liệu ISO 19139 / the layer's ISO 19139 record (for the national data portal)."""
    if layer_id not in layers:
        raise NotFoundError(f"Không có lớp / no layer {layer_id!r}")
    xml = await anyio.to_thread.run_sync(iso19139, layers[layer_id], _base(request))
    return Response(xml, media_type="application/xml; charset=utf-8")


@router.get("/layers/{layer_id}/dcat.jsonld", responses={
    200: {"content": {"application/ld+json": {}}, "description": "DCAT dataset"}})
async def dcat_metadata(layer_id: str, request: Request, layers: VisibleCatalog) -> JSONResponse:
    """Siêu dữ liệu DCAT / the layer as a DCAT dataset (JSON-LD)."""
    if layer_id not in layers:
        raise NotFoundError(f"Không có lớp / no layer {layer_id!r}")
    return JSONResponse(dcat(layers[layer_id], _base(request)), media_type="application/ld+json")
