"""The one door for "who is calling", used by every route: the OGC gateway, tiles, STAC, the QGIS
project, the web map's endpoints and the change reports.

- ``key_of``: the key a request carries (``X-API-Key``, ``Authorization: Bearer``, or HTTP Basic
  with the key as password, which QGIS's basic authentication sends);
- ``Door``: built once in the application's lifespan (``app.state.door``); it checks keys through
  ``sdi.access.KeyCache`` (a revoked key is refused within ``KEY_TTL_S``) and keeps the catalogue
  of layers, re-read when the ``layers`` table changes (checked at most once a second), so a new or
  re-classified layer reaches every door at once; listeners (the OGC gateway's views) are told;
- ``caller`` / ``Caller``: the FastAPI dependency; a wrong or revoked key raises the one domain
  error, ``InvalidCredentialsError`` (401 with ``WWW-Authenticate``, see ``sdi.problems``);
- ``visible_catalog`` / ``VisibleCatalog``: the layers the caller may see, by the one rule
  (``sdi.access.visible``).

The core does not know what a layer is beyond ``sdi.access.Protected``: the entry point that
builds the door hands it the catalogue loader (``layers.catalog.load_catalog``).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine, text

from sdi.access import ANONYMOUS, KeyCache, Principal, Protected, visible
from sdi.database import translate_db_errors
from sdi.errors import InvalidCredentialsError
from sdi.notify import ChangeListener

logger = logging.getLogger(__name__)


#: How often the catalogue's version is asked (a change is seen by every door within this time).
CATALOG_CHECK_S = 1.0
#: One digest of everything in ``layers`` that changes what a door serves.
_VERSION_SQL = text("SELECT md5(coalesce(string_agg(l::text, ',' ORDER BY l.id), '')) FROM layers l")
BAD_KEY = "Khoá API sai hoặc đã bị thu hồi / the API key is wrong or revoked"


def key_of(request: Request) -> str | None:
    """The key the caller sent, if any."""
    if key := request.headers.get("x-api-key"):
        return key
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip()).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return "invalid"
    return None


class Door[L: Protected]:
    """Who is calling and what they may see (see the module docstring)."""

    def __init__(self, engine: Engine, load_catalog: Callable[[Engine], Mapping[str, L]]) -> None:
        self.engine = engine
        self.keys = KeyCache(engine)
        self._load = load_catalog
        self._catalog: dict[str, L] = {}
        self._version: str | None = None
        self._checked = 0.0
        self._stale = False  # set by ``expire``: the next look re-reads the catalogue
        self._lock = threading.Lock()
        self._listeners: list[Callable[[dict[str, L]], None]] = []
        self.refresh(force=True)

    # --- who ---------------------------------------------------------------------------------------

    async def identify(self, request: Request) -> Principal:
        """The caller of ``request``: ANONYMOUS without a key; ``InvalidCredentialsError`` for a bad one."""
        key = key_of(request)
        if not key:
            return ANONYMOUS
        who = self.keys.cached(key)  # checked within the last second: no thread hop, no query
        if who is None:
            with translate_db_errors():
                who = await asyncio.to_thread(self.keys.check, key)
        if who is None:
            raise InvalidCredentialsError(BAD_KEY)
        return who

    # --- what ---------------------------------------------------------------------------------------

    def on_change(self, listener: Callable[[dict[str, L]], None]) -> None:
        """Call ``listener(catalog)`` now and whenever the catalogue changes."""
        with self._lock:
            self._listeners.append(listener)
            listener(self._catalog)

    def refresh(self, force: bool = False) -> None:
        """Re-read the catalogue if the ``layers`` table changed (asked at most once a second)."""
        now = time.monotonic()
        if not force and not self._stale and now - self._checked < CATALOG_CHECK_S:
            return
        with self._lock:
            self._stale = False  # an ``expire`` from now on counts for the next look
            with self.engine.connect() as conn:
                version = conn.execute(_VERSION_SQL).scalar()
            self._checked = now
            if version != self._version:
                self._catalog = dict(self._load(self.engine))
                self._version = version
                for listener in self._listeners:
                    listener(self._catalog)
                logger.info("catalogue (re)read: %d layers", len(self._catalog))

    def expire(self) -> None:
        """Re-read the catalogue's version on the next look (another process changed ``layers``: ``sdi.notify``)."""
        self._stale = True

    def listen(self, listener: ChangeListener) -> None:
        """Forget trusted keys and the catalogue's version as soon as another process changes them."""
        listener.on("api_keys", self.keys.forget)
        listener.on("layers", self.expire)

    @property
    def version(self) -> str | None:
        return self._version

    def catalog(self) -> dict[str, L]:
        """Every layer (for the doors' own checks; what a caller sees is ``visible_layers``)."""
        self.refresh()
        return self._catalog

    def visible_layers(self, who: Principal) -> dict[str, L]:
        """The layers ``who`` may see."""
        return {i: layer for i, layer in self.catalog().items() if visible(layer, who)}


def door_of(request: Request) -> Door:
    """The application's door (made in its lifespan)."""
    return request.app.state.door


async def caller(request: Request) -> Principal:
    """FastAPI dependency: the caller (ANONYMOUS without a key); a wrong or revoked key is a 401."""
    who = await door_of(request).identify(request)
    request.state.principal = who
    return who


Caller = Annotated[Principal, Depends(caller)]


async def visible_catalog(request: Request, who: Caller) -> dict:
    """FastAPI dependency: the layers the caller may see (the same rule as the OGC API)."""
    door = door_of(request)
    with translate_db_errors():
        return await asyncio.to_thread(door.visible_layers, who)


VisibleCatalog = Annotated[dict, Depends(visible_catalog)]
