"""The COG itself: ``GET``/``HEAD /rasters/{item_id}/cog.tif`` with HTTP Range requests.

QGIS and GDAL open a COG over HTTP (``/vsicurl/``) by reading its header and then only the
tiles and overview levels in view, with ``Range: bytes=…`` requests: Starlette's
``FileResponse`` answers them (206 Partial Content, ``Content-Range``, ``Accept-Ranges``,
``Content-Length``, ``ETag``/``Last-Modified``, ``If-Range``, HEAD). The file is the stored
item's, found through the database and the access rule like every other raster route. With an
S3 store the client is redirected to a short-lived presigned URL of the object (S3 answers
ranges itself).
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import urlparse

from fastapi import Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from sdi.errors import NotFoundError
from tiles.params import raster_item
from tiles.store import RasterRef

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
PRESIGN_SECONDS = 900


async def cog_file(request: Request, ref: Annotated[RasterRef, Depends(raster_item)]) -> Response:
    """Tệp COG / the item's Cloud-Optimized GeoTIFF, with Range support (for GDAL ``/vsicurl/`` and QGIS)."""
    if not ref.local:
        url = await asyncio.to_thread(_presign, request.app.state.settings, ref.location)
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "private, no-store"})
    import os

    if not os.path.isfile(ref.location):
        raise NotFoundError(f"Tệp của ảnh không có trong kho / the file of {ref.id!r} is missing from the store")
    return FileResponse(ref.location, media_type=COG_MEDIA_TYPE,
                        headers={"Content-Disposition": f'inline; filename="{ref.id}.tif"'})


def _presign(settings, location: str) -> str:  # noqa: ANN001
    import boto3

    parsed = urlparse(location)
    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, aws_access_key_id=settings.s3_access_key,
                          aws_secret_access_key=settings.s3_secret_key, region_name=settings.s3_region)
    return client.generate_presigned_url("get_object", Params={"Bucket": parsed.netloc, "Key": parsed.path[1:]},
                                         ExpiresIn=PRESIGN_SECONDS)
