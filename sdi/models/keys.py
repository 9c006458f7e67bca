"""API keys (digests only, never the secret) and the audit log of restricted reads and edits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from sdi.models.base import Base

#: agency: staff of one agency; border: border security (reads restricted layers); admin: all.
ROLES = ("agency", "border", "admin")


class ApiKey(Base):
    """A credential for the API: only a SHA-256 digest of the secret is kept."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    agency: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    #: the key's public prefix (``sdi_xxxxxxxx``) for lookup and display; never the secret.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="role_known"),)


class AccessLogEntry(Base):
    """Audit log: every read of a restricted layer and every edit, with who and what."""

    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    key_name: Mapped[str | None] = mapped_column(String(128))
    layer_id: Mapped[str] = mapped_column(String(63))
    action: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
