"""Helpers of the S3 store tests: the ``SDI_*`` variables of a store, the objects of a bucket."""

from __future__ import annotations

from sdi.settings import Settings
from tests.s3.server import S3Server


def sdi_env(settings: Settings) -> dict[str, str]:
    """The ``SDI_*`` variables of an S3 store, for the ``sdi`` command and ``sdi serve``."""
    return {"SDI_RASTER_STORE": settings.raster_store, "SDI_S3_ENDPOINT_URL": str(settings.s3_endpoint_url),
            "SDI_S3_ACCESS_KEY": str(settings.s3_access_key), "SDI_S3_SECRET_KEY": str(settings.s3_secret_key),
            "SDI_S3_REGION": str(settings.s3_region), "SDI_STATE_DIR": str(settings.state_dir)}


def objects(server: S3Server, bucket: str) -> dict[str, tuple[int, str]]:
    """Every object of the bucket: key → (size, ETag)."""
    out = {}
    for page in server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = (obj["Size"], obj["ETag"])
    return out
