"""What replicas share beyond the catalogue: OGC process jobs and rendered change reports.

Nothing a request or a job needs lives on one server's disk: N ``sdi serve`` processes behind a load
balancer, on one database, answer as one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, LargeBinary, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from sdi.models.base import Base


class ProcessJob(Base):
    """A job of an OGC API process, as pygeoapi's PostgreSQL manager
    (``pygeoapi.process.manager.postgresql``) expects its ``jobs`` table, column for column; its
    results are in ``output`` (the manager's table-output form), not in a file of one server."""

    __tablename__ = "jobs"
    identifier: Mapped[str] = mapped_column(String, primary_key=True)
    type: Mapped[str] = mapped_column(String, server_default=text("'process'::character varying"))
    process_id: Mapped[str] = mapped_column(String)
    # pygeoapi writes UTC instants as text without a zone type: kept as it reads them back
    created: Mapped[dt.datetime | None] = mapped_column(DateTime)
    started: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String)
    location: Mapped[str | None] = mapped_column(String)
    mimetype: Mapped[str | None] = mapped_column(String)
    message: Mapped[str | None] = mapped_column(String)
    progress: Mapped[int] = mapped_column(Integer)
    output: Mapped[bytes | None] = mapped_column(LargeBinary)


class CachedReport(Base):
    """A rendered change report (HTML or PDF): one row per report, format and set of image chips
    (``key``), valid while the digest of the rows it shows is ``version``."""

    __tablename__ = "change_report_cache"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class RateLimitWindow(Base):
    """One client's hits in one window of one limit (``sdi.ratelimit_store``), counted by every replica;
    UNLOGGED (migration 0014): counters of the last minute need no WAL and may be lost in a crash."""

    __tablename__ = "rate_limit_windows"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
