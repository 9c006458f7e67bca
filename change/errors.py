"""Errors of change detection: precise, bilingual, and raised before anything is written."""

from __future__ import annotations

from sdi.errors import InvalidInputError, NotFoundError, SDIError

__all__ = ["ChangeInputError", "DaskUnavailableError", "NotFoundError"]


class ChangeInputError(InvalidInputError):
    """Two rasters that cannot be compared (no overlap, no common bands, same item, …)."""


class DaskUnavailableError(SDIError):
    """The Dask scheduler given for the run cannot be reached, or has no workers."""

    status = 503
    title = "Cụm Dask không sẵn sàng / Dask cluster unavailable"
