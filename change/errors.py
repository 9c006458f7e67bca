"""Errors of change detection: precise, bilingual, and raised before anything is written."""

from __future__ import annotations

from sdi.errors import InvalidInputError, NotFoundError

__all__ = ["ChangeInputError", "NotFoundError"]


class ChangeInputError(InvalidInputError):
    """Two rasters that cannot be compared (no overlap, no common bands, same item, …)."""
