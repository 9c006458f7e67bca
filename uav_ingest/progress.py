"""Progress of the long steps of an ingest: the CLI draws rich bars, the API reports nothing."""

from __future__ import annotations

from typing import Protocol


class Steps(Protocol):
    """One step at a time: ``start`` (a total in its own unit, or None), ``advance``/``update``, ``done``."""

    def start(self, description: str, total: float | None = None) -> None: ...
    def advance(self, amount: float) -> None: ...
    def update(self, completed: float) -> None: ...
    def done(self) -> None: ...


class Quiet:
    """No progress output (HTTP uploads, tests)."""

    def start(self, description: str, total: float | None = None) -> None:
        pass

    def advance(self, amount: float) -> None:
        pass

    def update(self, completed: float) -> None:
        pass

    def done(self) -> None:
        pass
