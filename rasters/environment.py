"""How the raster store is reached: the one S3 set-up.

- ``s3_client``: a boto3 client (path-style, SigV4) for the store itself and for presigned COG URLs;
- ``gdal_env``: ``rasterio.Env`` options for GDAL to read the same store (``/vsis3/``), with a
  rasterio ``AWSSession`` for the keys.
A local folder needs neither.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

from sdi.settings import Settings


def is_s3(settings: Settings) -> bool:
    return settings.raster_store.startswith("s3://")


@lru_cache(maxsize=8)
def _client(endpoint: str | None, access_key: str | None, secret_key: str | None, region: str | None) -> Any:
    import boto3  # boto3 takes 0.3 s to import: only stores and COG downloads on S3 pay it
    from botocore.config import Config

    # path-style (http://host/bucket/key): a MinIO or SeaweedFS endpoint has no per-bucket host names;
    # SigV4: presigned URLs of the older SigV2 are refused by most servers
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=60)
    return boto3.client("s3", endpoint_url=endpoint or None, region_name=region or None,
                        aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
                        config=config)


def s3_client(settings: Settings) -> Any:
    """One boto3 S3 client per endpoint and identity (clients are thread-safe): the store's and the
    presigned COG URLs'. Unset keys: boto3's own chain (environment, ``~/.aws``, instance role)."""
    return _client(settings.s3_endpoint_url, settings.s3_access_key, settings.s3_secret_key, settings.s3_region)


def gdal_env(settings: Settings) -> dict[str, Any]:
    """``rasterio.Env`` options to read the store: nothing for a folder; for S3 the endpoint
    (path-style: a MinIO or SeaweedFS host has no per-bucket names) and, with keys, a rasterio
    ``AWSSession`` (rasterio refuses ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` as plain options)."""
    if not is_s3(settings):
        return {}
    env: dict[str, Any] = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}  # no listing of the prefix per open
    if settings.s3_endpoint_url:
        endpoint = urlparse(settings.s3_endpoint_url)
        env.update(AWS_S3_ENDPOINT=endpoint.netloc, AWS_HTTPS="YES" if endpoint.scheme == "https" else "NO",
                   AWS_VIRTUAL_HOSTING="FALSE")
    if settings.s3_access_key and settings.s3_secret_key:
        env["session"] = _aws_session(settings.s3_access_key, settings.s3_secret_key, settings.s3_region)
    else:  # GDAL's own chain (AWS_* variables, ~/.aws, an instance role), without a boto3 session per open
        env["AWS_NO_SIGN_REQUEST"] = "NO"
        if settings.s3_region:
            env["AWS_REGION"] = settings.s3_region
    return env


@lru_cache(maxsize=8)
def _aws_session(access_key: str, secret_key: str, region: str | None) -> Any:
    """One rasterio ``AWSSession`` per identity: the same object each time, so ``gdal_env`` results
    compare equal (``rasters.bands`` caches by them)."""
    from rasterio.session import AWSSession

    return AWSSession(aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region)
