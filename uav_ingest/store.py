"""Where COGs live: a local folder (default) or an S3-compatible bucket (``s3://bucket/prefix``).

Keys are relative paths (``uav_rgb/<item>.tif``), the ``href`` column of ``raster_items``.
Work files (uploads, COGs being written) go to a local ``tmp`` area: for a local store it is
``<root>/.tmp`` on the same file system, so putting a file in place is one atomic rename; for S3
it is ``<state_dir>/raster-tmp`` and a PUT (one object appears whole or not at all).

The S3 store is deliberately small (boto3 ``upload_file``/``head_object``/``list_objects_v2``/
``delete_object``) and **not tested here**: no S3-compatible server (MinIO) is installable from
the package registries this project uses.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from sdi.settings import Settings

TMP = ".tmp"


class Store(Protocol):
    tmp_dir: Path

    def put(self, local: Path, key: str, progress: Callable[[int], None] | None = None) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int | None: ...
    def delete(self, key: str) -> None: ...
    def keys(self) -> Iterator[str]: ...
    def gdal_path(self, key: str) -> str: ...


class LocalStore:
    """A folder: ``put`` is an atomic rename from ``<root>/.tmp``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / TMP
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()) or key.startswith(TMP):
            raise ValueError(f"key outside the store: {key!r}")
        return path

    def put(self, local: Path, key: str, progress: Callable[[int], None] | None = None) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, target)  # same file system: atomic
        _fsync_dir(target.parent)
        if progress:
            progress(target.stat().st_size)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        for path in sorted(self.root.rglob("*.tif")):
            rel = path.relative_to(self.root).as_posix()
            if not rel.startswith(TMP + "/"):
                yield rel

    def gdal_path(self, key: str) -> str:
        return str(self._path(key))

    def sha256(self, key: str) -> str:
        return file_sha256(self._path(key))


class S3Store:
    """An S3-compatible bucket (MinIO, Ceph, AWS) through boto3. Untested here, see the module doc."""

    def __init__(self, url: str, settings: Settings) -> None:
        import boto3

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key, aws_secret_access_key=settings.s3_secret_key)
        self.endpoint = settings.s3_endpoint_url
        self.tmp_dir = settings.state_dir / "raster-tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, local: Path, key: str, progress: Callable[[int], None] | None = None) -> None:
        self.client.upload_file(str(local), self.bucket, self._key(key), Callback=progress,
                                ExtraArgs={"ContentType": "image/tiff; application=geotiff; profile=cloud-optimized"})
        local.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self) -> Iterator[str]:
        start = f"{self.prefix}/" if self.prefix else ""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith(".tif"):
                    yield obj["Key"][len(start):]

    def gdal_path(self, key: str) -> str:
        """``/vsis3/…`` for GDAL (needs AWS_S3_ENDPOINT etc. in GDAL's environment for MinIO)."""
        return f"/vsis3/{self.bucket}/{self._key(key)}"


def open_store(settings: Settings) -> LocalStore | S3Store:
    """The store named by ``Settings.raster_store``."""
    if settings.raster_store.startswith("s3://"):
        return S3Store(settings.raster_store, settings)
    return LocalStore(Path(settings.raster_store))


def file_sha256(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def clear_tmp(store: LocalStore | S3Store, name: str) -> None:
    """Remove a work file or folder from the tmp area."""
    path = store.tmp_dir / name
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
