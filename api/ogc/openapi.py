"""The OpenAPI document of one view, from pygeoapi's generator."""

from __future__ import annotations

from pygeoapi.openapi import get_oas


def openapi_document(config: dict) -> dict:
    """pygeoapi's OpenAPI 3 document for ``config`` (limits come from the config)."""
    return get_oas(config, fail_on_invalid_collection=False)
