"""What pygeoapi's providers need from the application: engine, settings, catalogue, caller.

pygeoapi builds providers from configuration dictionaries, in worker threads, so they
cannot be handed objects; the gateway registers them here at start-up instead.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from layers.catalog import Layer
    from sdi.settings import Settings

_state: dict = {}
_caller = threading.local()


def configure(engine: Engine, settings: Settings, catalog: dict[str, Layer]) -> None:
    _state.update(engine=engine, settings=settings, catalog=catalog)


def set_catalog(catalog: dict[str, Layer]) -> None:
    _state["catalog"] = catalog


def engine() -> Engine:
    return _state["engine"]


def settings() -> Settings:
    return _state["settings"]


def catalog() -> dict[str, Layer]:
    return _state["catalog"]


def layer(layer_id: str) -> Layer:
    return _state["catalog"][layer_id]


def set_caller(label: str) -> None:
    """Who is calling, for the load log of edits (set in the worker thread of each request)."""
    _caller.label = label


def caller_label() -> str:
    return getattr(_caller, "label", "anonymous")
