"""The COG itself: ``GET``/``HEAD /rasters/{item_id}/cog.tif`` with HTTP Range requests.

QGIS and GDAL open a COG over HTTP (``/vsicurl/``) by reading its header and then only the
tiles and overview levels in view, with ``Range: bytes=…`` requests: Starlette's
``FileResponse`` answers them (206 Partial Content, ``Content-Range``, ``Accept-Ranges``,
``Content-Length``, ``ETag``/``Last-Modified``, ``If-Range``, HEAD). The file is the stored
item's, found through the database and the access rule like every other raster route. With an
S3 store the client is redirected (307) to a short-lived presigned URL of the object, signed
for the request's method (a URL signed for GET is refused to a HEAD): S3 answers the ranges.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import urlparse

from fastapi import Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from rasters.environment import s3_client
from rasters.items import RasterRef
from rasters.store import COG_MEDIA_TYPE
from sdi.errors import NotFoundError
from sdi.settings import Settings
from tiles.params import raster_item

PRESIGN_SECONDS = 900


async def cog_file(request: Request, ref: Annotated[RasterRef, Depends(raster_item)]) -> Response:
    """Tệp COG / the item's Cloud-Optimized GeoTIFF, with Range support (for GDAL ``/vsicurl/`` and QGIS)."""
    if not ref.local:
        url = await asyncio.to_thread(_presign, request.app.state.settings, ref.location, request.method)
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "private, no-store"})
    import os

    if not os.path.isfile(ref.location):
        raise NotFoundError(f"Tệp của ảnh không có trong kho / the file of {ref.id!r} is missing from the store")
    return FileResponse(ref.location, media_type=COG_MEDIA_TYPE,
                        headers={"Content-Disposition": f'inline; filename="{ref.id}.tif"'})


def _presign(settings: Settings, location: str, method: str) -> str:
    parsed = urlparse(location)
    operation = "head_object" if method == "HEAD" else "get_object"
    return s3_client(settings).generate_presigned_url(
        operation, Params={"Bucket": parsed.netloc, "Key": parsed.path[1:]}, ExpiresIn=PRESIGN_SECONDS)
