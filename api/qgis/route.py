"""``GET /qgis/project.qgs``: the QGIS project of every layer the caller may see."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.qgis.auth import DEFAULT_AUTHCFG
from api.qgis.xml import project_xml
from rasters.items import visible_items
from sdi.callers import Caller, VisibleCatalog

router = APIRouter(tags=["QGIS"])

MEDIA_TYPE = "application/x-qgis-project"

AuthCfg = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{7}$", description=(
    "Id cấu hình xác thực QGIS có sẵn / id of an existing QGIS authentication configuration"))]


@router.get("/qgis/project.qgs", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {}}, "description": "QGIS project (.qgs)"}})
async def qgis_project(request: Request, who: Caller, layers: VisibleCatalog, authcfg: AuthCfg = None) -> Response:
    """Dự án QGIS / a QGIS project of every layer the caller may see (OGC API – Features, vector tiles)."""
    settings = request.app.state.settings
    rasters = await asyncio.to_thread(visible_items, request.app.state.engine, settings, who)
    auth = None if who.anonymous else (authcfg or DEFAULT_AUTHCFG)
    body = project_xml(layers, settings.link_base(str(request.base_url)), auth, who, rasters)
    return Response(body, media_type=MEDIA_TYPE, headers={
        "Content-Disposition": 'attachment; filename="langson-sdi.qgs"',
        "Cache-Control": "private, no-store", "Vary": "Authorization, X-API-Key",
    })
