"""What pygeoapi's providers and processes need from the application, bound to each request.

pygeoapi builds providers and processors from configuration dictionaries, in its own worker
threads, so they cannot be handed objects. The services live on the application
(``app.state.ogc``, the gateway's ``services``); the gateway binds them, with the caller, to the
worker thread of each request (``bind``), as Flask binds its request context, and providers
read them with ``current()``. A processor keeps the services it was made with, since an
asynchronous job runs in a thread of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from layers.catalog import Layer
from sdi.access import ANONYMOUS, Principal
from sdi.settings import Settings


@dataclass(frozen=True)
class Services:
    """The application's engine, settings and catalogue, as the gateway last read it."""

    engine: Engine
    settings: Settings
    catalog: dict[str, Layer]

    def layer(self, layer_id: str) -> Layer:
        return self.catalog[layer_id]


_bound = threading.local()


def bind(services: Services, who: Principal) -> None:
    """Bind ``services`` and the caller to the current (worker) thread."""
    _bound.services, _bound.who = services, who


def bound[T](services: Services, who: Principal, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` with ``services`` bound (for ``asyncio.to_thread``)."""
    bind(services, who)
    return fn(*args)


def current() -> Services:
    """The services bound to this thread by the gateway."""
    services = getattr(_bound, "services", None)
    if services is None:
        raise RuntimeError("no OGC request is being served in this thread (see api.ogc.context.bind)")
    return services


def caller() -> Principal:
    """Who is calling (the records catalogue shows the raster collections they may see)."""
    return getattr(_bound, "who", ANONYMOUS)


def caller_label() -> str:
    """Who is calling, for the load log of edits."""
    return caller().label
