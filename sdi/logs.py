"""Logging, configured once at the entry point."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler


def configure(level: str = "INFO") -> None:
    """Log to stderr through rich: time, level, logger, message."""
    logging.basicConfig(
        level=level.upper(), format="%(name)s: %(message)s", datefmt="%H:%M:%S",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False, markup=False)], force=True,
    )
    for noisy in ("alembic.runtime.plugins", "alembic.runtime.migration", "pyogrio._io", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
