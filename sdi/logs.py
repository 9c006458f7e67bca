"""Logging, configured once at the entry point; the request id in every line written during a request.

- ``configure``: the commands' logging (rich, to stderr);
- ``server_config``: the ``logging.config.dictConfig`` of ``sdi serve``, handed to uvicorn (which applies
  it in every worker): the application's lines and uvicorn's own (errors, the access log) through one
  handler, as text or as one JSON object per line (python-json-logger, ``SDI_LOG_FORMAT=json``), each
  with the ``request_id``;
- the request id: ``X-Request-ID`` from the caller when it is safe (``valid_request_id``: 1–128 of
  ``A–Z a–z 0–9 . _ -``; anything else is replaced), else a new one; put in a contextvar by
  asgi-correlation-id's middleware (installed by ``api.app``), returned in the response header, and
  copied onto every record by ``RequestIdFilter``. Threads started with ``asyncio.to_thread`` copy the
  context, so lines written by pygeoapi or the tile readers during the request carry it too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from asgi_correlation_id import correlation_id
from rich.console import Console
from rich.logging import RichHandler

HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
NOISY = ("alembic.runtime.plugins", "alembic.runtime.migration", "pyogrio._io", "httpx")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


def configure(level: str = "INFO") -> None:
    """Log to stderr through rich: time, level, logger, message."""
    logging.basicConfig(
        level=level.upper(), format="%(name)s: %(message)s", datefmt="%H:%M:%S",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False, markup=False)], force=True,
    )
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def valid_request_id(value: str) -> bool:
    """A caller's ``X-Request-ID`` is kept only if short and made of safe characters (no log injection)."""
    return _SAFE_ID.fullmatch(value) is not None


def request_id() -> str | None:
    """The id of the request being served, if any."""
    return correlation_id.get()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = correlation_id.get() or "-"
        return True


def server_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """The server's logging: one stderr handler, text or JSON, the request id on every line."""
    formatter: dict[str, Any] = (
        {"()": "pythonjsonlogger.json.JsonFormatter", "fmt": JSON_FIELDS,
         "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}, "json_ensure_ascii": False}
        if fmt == "json" else {"format": TEXT_FORMAT})
    level = level.upper()
    handler = ["default"]
    return {
        "version": 1, "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "sdi.logs.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {"default": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                 "formatter": "default", "filters": ["request_id"]}},
        "root": {"level": level, "handlers": handler},
        "loggers": {
            "uvicorn": {"level": level, "handlers": handler, "propagate": False},
            "uvicorn.error": {"level": level, "handlers": handler, "propagate": False},
            "uvicorn.access": {"level": level, "handlers": handler, "propagate": False},
            # it warns of a replaced id before the new one is set: the response header says it
            "asgi_correlation_id": {"level": "ERROR"},
            **{name: {"level": "WARNING"} for name in NOISY},
        },
    }
