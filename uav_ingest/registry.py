"""The ingest's hold on a source file: an advisory lock per checksum, and the item already made from it.

Shared by ``uav_ingest.ingest`` (a new file) and ``uav_ingest.repair`` (finishing or rolling back
an interrupted one), which must agree on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sdi.models import RasterItem


def lock_key(sha256: str) -> int:
    """The advisory-lock key of a file (48 bits of its checksum; also in its work folder's name)."""
    return int(sha256[:12], 16)


@contextmanager
def advisory_lock(engine: Engine, key: int) -> Iterator[bool]:
    """Hold ``pg_advisory_lock(key)`` for the block if it is free; yields whether it was taken."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        got = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
        try:
            yield got
        finally:
            if got:
                conn.execute(select(func.pg_advisory_unlock(key)))


def existing_item(engine: Engine, sha256: str) -> RasterItem | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.scalar(select(RasterItem).where(RasterItem.source_sha256 == sha256))
