"""Harvest sources: other agencies' OGC API Features or WFS 2.0 services copied into layers (``layers.harvest``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ARRAY, CheckConstraint, DateTime, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sdi.models.base import EMPTY_TEXT_ARRAY, Base

HARVEST_KINDS = ("oapif", "wfs")


class HarvestSource(Base):
    """One registered service: where it is, which collections become which layers, when it is due."""

    __tablename__ = "harvest_sources"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    #: ``oapif`` (OGC API Features) or ``wfs`` (WFS 2.0), detected when it is added
    kind: Mapped[str] = mapped_column(String(8))
    #: the owning agency of the harvested layers and their access level
    agency: Mapped[str] = mapped_column(String(32))
    access_level: Mapped[str] = mapped_column(String(16))
    collections: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_TEXT_ARRAY)
    #: {collection: layer id}
    layers: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    #: refresh interval in seconds (None: only on demand) and when the next refresh is due
    every_s: Mapped[int | None] = mapped_column(Integer)
    next_due: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_run: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: the last run's error (None: it succeeded), and each collection's outcome {collection: {...}}
    last_error: Mapped[str | None] = mapped_column(Text)
    status: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (CheckConstraint(f"kind IN {HARVEST_KINDS}", name="harvest_kind_known"),)
