"""An HTTP upload streamed to the store's tmp area: counted (and hashed) as it arrives, never held
in memory, refused with 413 as soon as it passes the limit, whatever Content-Length said.

Two forms: ``multipart/form-data`` (a ``file`` part plus small form fields: a raster's ``datetime``,
a layer's id and titles), parsed with python-multipart's streaming parser; or the raw file as the
body. Used by the raster upload (``POST /stac/collections/{id}/items``) and the layer upload
(``POST /layers``).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from sdi.errors import FileTooLargeError, InvalidInputError

FIELD_LIMIT = 4096  # bytes of a form field (datetime, platform)
FRAMING = 64 * 1024  # multipart boundaries, part headers and fields, on top of the file's limit


@dataclass
class Upload:
    path: Path
    size: int = 0
    sha256: str = ""
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class _Sink:
    """Writes file bytes to disk and hashes them; form fields are kept (small) in memory."""

    def __init__(self, path: Path, limit: int, setting: str) -> None:
        self.upload = Upload(path=path)
        self.limit, self.setting = limit, setting
        self.digest = hashlib.sha256()
        self.fh = path.open("wb")
        self.received = 0
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._name: str | None = None
        self._is_file = False
        self._value = bytearray()
        self.files = 0

    def count(self, n: int) -> None:
        self.received += n
        if self.received > self.limit:
            raise _too_large(self.limit, self.setting)

    def file_data(self, data: bytes) -> None:
        self.fh.write(data)
        self.digest.update(data)
        self.upload.size += len(data)

    # python-multipart callbacks
    def on_part_begin(self) -> None:
        self._headers, self._name, self._is_file, self._value = {}, None, False, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._headers[self._field.lower()] = self._headers.get(self._field.lower(), b"") + data[start:end]

    def on_header_end(self) -> None:
        self._field = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            self._is_file = True
            self.files += 1
            if self.files > 1:
                raise InvalidInputError("Chỉ một tệp mỗi lần tải / one file per upload")
            self.upload.filename = options[b"filename"].decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.file_data(data[start:end])
        else:
            self._value += data[start:end]
            if len(self._value) > FIELD_LIMIT:
                raise InvalidInputError(f"Trường biểu mẫu quá dài / form field {self._name!r} is too long")

    def on_part_end(self) -> None:
        if not self._is_file and self._name:
            self.upload.fields[self._name] = self._value.decode("utf-8", "replace").strip()

    def close(self) -> None:
        self.fh.close()
        self.upload.sha256 = self.digest.hexdigest()


def _too_large(limit: int, setting: str, declared: int | None = None) -> FileTooLargeError:
    size = f" ({declared:,} byte / bytes)" if declared else ""
    return FileTooLargeError(f"Tệp tải lên{size} vượt giới hạn {limit:,} byte / the upload{size} exceeds the limit "
                             f"of {limit:,} bytes ({setting})")


async def receive(request: Request, tmp_dir: Path, limit: int, setting: str = "SDI_MAX_RASTER_BYTES") -> Upload:
    """Stream the request body to ``tmp_dir/upload-part-<uuid>``; the caller removes ``.path``.
    ``setting`` names the limit in the 413's message."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    multipart = content_type == b"multipart/form-data"
    body_limit = limit + (FRAMING if multipart else 0)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > body_limit:  # refused before reading a byte
        raise _too_large(limit, setting, int(declared))
    tmp_dir.mkdir(parents=True, exist_ok=True)
    sink = _Sink(tmp_dir / f"upload-part-{uuid.uuid4().hex}", body_limit, setting)
    try:
        if multipart:
            if b"boundary" not in options:
                raise InvalidInputError("Thiếu boundary của multipart / multipart body without a boundary")
            names = ("on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value",
                     "on_header_end", "on_headers_finished")
            callbacks: Any = {n: getattr(sink, n) for n in names}
            parser = MultipartParser(options[b"boundary"], callbacks)
            async for chunk in request.stream():
                sink.count(len(chunk))
                parser.write(chunk)
            parser.finalize()
            if sink.files == 0:
                raise InvalidInputError("Thiếu phần tệp / the multipart body has no file part (field 'file')")
        else:
            async for chunk in request.stream():
                sink.count(len(chunk))
                sink.file_data(chunk)
        if sink.upload.size > limit:  # the file alone, without the framing
            raise _too_large(limit, setting)
    except BaseException:
        sink.close()
        sink.upload.path.unlink(missing_ok=True)
        raise
    sink.close()
    os.chmod(sink.upload.path, 0o644)
    return sink.upload
