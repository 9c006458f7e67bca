"""Rate limits of anonymous callers, per route family (``SDI_RATE_LIMITS``), with the ``limits`` library.

A family is a kind of request that costs the server (``tiles``: raster and vector tiles; ``ogc_items``:
OGC API items pages and features; ``stac_search``: STAC item search; ``other``: everything else, unset by
default). Each client address has a moving window per family; over it the answer is **429**
problem+json with ``Retry-After``. Callers with a valid key are staff and are not limited (unless
``SDI_RATE_LIMIT_KEYED``); a wrong key is counted as anonymous (and refused by the route).

The windows live in ``SDI_RATE_LIMIT_STORAGE``: ``database`` (the default) in the SDI's PostgreSQL
(``sdi.ratelimit_store``: fixed windows, one upsert per limited request, shared by every worker and
replica, so N replicas still allow the limit once); ``memory://`` (moving windows, each worker process
counts for itself: with ``--workers N`` a client gets up to N times the limit); ``redis://…`` or
``memcached://…`` (with the library's client installed) shared too.
"""

from __future__ import annotations

import asyncio
import math
import re
import time

from limits import RateLimitItem, parse, storage, strategies
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from sdi import problems
from sdi.callers import key_of
from sdi.errors import InvalidCredentialsError
from sdi.ratelimit_store import DatabaseStorage
from sdi.settings import Settings

DATABASE = "database"  # SDI_RATE_LIMIT_STORAGE: the SDI's PostgreSQL

#: the route families, matched on the path in order (the first that matches)
FAMILIES: list[tuple[str, re.Pattern[str]]] = [
    ("tiles", re.compile(r"^/rasters/(.+/)?tiles/[^/]+/\d+/\d+/\d+|^/ogc/collections/[^/]+/tiles/[^/]+/\d+/")),
    ("ogc_items", re.compile(r"^/ogc/collections/[^/]+/items(/|$)")),
    ("stac_search", re.compile(r"^/stac/search$")),
]
EXEMPT = re.compile(r"^/(health|ready|metrics)$")  # probes and scrapes are never limited


def family_of(path: str) -> str:
    for name, pattern in FAMILIES:
        if pattern.search(path):
            return name
    return "other"


class RateLimits:
    """ASGI middleware: the limits of ``settings.rate_limits`` for anonymous callers (see the module)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.items: dict[str, RateLimitItem] = {f: parse(v) for f, v in settings.rate_limits.items()}
        self.keyed = settings.rate_limit_keyed
        self.shared = settings.rate_limit_storage == DATABASE
        self.limiter: strategies.RateLimiter | None = None if self.shared else strategies.MovingWindowRateLimiter(
            storage.storage_from_string(settings.rate_limit_storage))

    def _limiter(self, scope: Scope) -> strategies.RateLimiter:
        if self.limiter is None:  # the database's engine exists once the application has started
            self.limiter = strategies.FixedWindowRateLimiter(DatabaseStorage(scope["app"].state.engine))
        return self.limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.items:
            await self.app(scope, receive, send)
            return
        path = scope["path"][len(scope.get("root_path", "")):]
        item = self.items.get(family_of(path))
        if item is None or EXEMPT.match(path) or (not self.keyed and await self._staff(scope)):
            await self.app(scope, receive, send)
            return
        family = family_of(path)
        client = (scope.get("client") or ("unknown", 0))[0]
        limiter = self._limiter(scope)
        # the database's counters are a round trip: off the event loop, as every query of the server
        allowed = await asyncio.to_thread(limiter.hit, item, family, client) if self.shared else \
            limiter.hit(item, family, client)
        if allowed:
            await self.app(scope, receive, send)
            return
        stats = await asyncio.to_thread(limiter.get_window_stats, item, family, client) if self.shared else \
            limiter.get_window_stats(item, family, client)
        reset = stats.reset_time
        wait = max(1, math.ceil(reset - time.time()))
        limit = str(item)  # "600 per 1 minute"
        response = problems.problem_at(
            429, problems.TITLES[429],
            f"Quá nhiều yêu cầu {family} từ địa chỉ này (tối đa {limit}); thử lại sau {wait} giây, hoặc dùng khoá "
            f"API của cơ quan / too many {family} requests from this address (at most {limit}); retry in {wait} s, "
            "or use an agency API key", scope["path"], family=family, limit=limit)
        response.headers["Retry-After"] = str(wait)
        await response(scope, receive, send)

    async def _staff(self, scope: Scope) -> bool:
        """A valid key (checked by the application's door, cached a second)."""
        request = Request(scope)
        if not key_of(request):
            return False
        door = getattr(scope["app"].state, "door", None)
        if door is None:
            return False
        try:
            who = await door.identify(request)
        except InvalidCredentialsError:
            return False
        return not who.anonymous
