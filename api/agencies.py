"""``GET /agencies``: the province's agencies (``sdi/agencies.yaml``), their codes and Vietnamese and
English names, for the web map's upload form (share a layer with named agencies). Public: the list
is no secret; with a key, ``your_agency`` names the caller's own (which owns what it publishes)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sdi.agencies import read_agencies
from sdi.callers import Caller

router = APIRouter(tags=["Cơ quan / agencies"])


@router.get("/agencies", responses={200: {"description": "the agencies: code, name_vi, name_en"}})
async def agencies(who: Caller) -> JSONResponse:
    """Danh sách cơ quan / the agencies that own layers and hold API keys."""
    listed = [a.model_dump() for a in read_agencies().values()]
    return JSONResponse({"agencies": listed, "your_agency": None if who.anonymous else who.agency},
                        headers={"Cache-Control": "private, max-age=60", "Vary": "X-API-Key, Authorization"})
