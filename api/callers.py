"""Who is calling, for the FastAPI routes outside the OGC gateway (one key handling everywhere)."""

from __future__ import annotations

import asyncio

from fastapi import Request

from layers.catalog import Layer
from sdi.access import Principal
from sdi.database import translate_db_errors
from sdi.errors import InvalidCredentialsError


async def caller(request: Request) -> Principal:
    """The caller (ANONYMOUS without a key); a wrong or revoked key is a 401."""
    who = await request.app.state.ogc.gateway.identify(request)
    if who is None:
        raise InvalidCredentialsError("Khoá API sai hoặc đã bị thu hồi / the API key is wrong or revoked")
    return who


async def visible_catalog(request: Request) -> dict[str, Layer]:
    """The layers the caller may see: the same rule as the OGC API."""
    who = await caller(request)
    with translate_db_errors():
        return await asyncio.to_thread(request.app.state.ogc.gateway.visible_layers, who)
