"""Who may see and edit what: the one place the access rule lives.

Every door (the OGC API, tiles, the catalogue, exports, the OpenAPI document, the QGIS
project) asks ``visible`` and ``can_edit`` here, through ``Principal``; nothing else decides.

- ``public`` layers: everyone, anonymous included.
- ``internal`` layers: anyone with a valid key (staff of any agency).
- ``restricted`` layers: admins, border security, staff of the owning agency and of the agencies the
  owner shared the layer with; for everyone else the layer does not exist (the API answers 404,
  never 403).
- Editing: admins, staff (any role) of the layer's owning agency, and of agencies granted ``edit``.
- Processes (forest change) and their jobs: admins and the rangers (``PROCESS_OWNER``).

Keys look like ``sdi_<prefix>_<secret>``: the prefix finds the row, only a SHA-256 digest
of the whole key is stored (keys are 256-bit random tokens, so a fast digest is the right
tool, as for GitHub or Stripe tokens; password hashes are for low-entropy secrets), and the
comparison is constant-time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Protocol

from cachetools import TTLCache
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sdi.agencies import read_agencies
from sdi.errors import ForbiddenError, InvalidInputError, NotFoundError
from sdi.models import ROLES, ApiKey


class Protected(Protocol):
    """What the rule needs of anything it guards: a layer, a raster collection."""

    @property
    def access_level(self) -> str: ...

    @property
    def owner(self) -> str: ...


@dataclass(frozen=True)
class Principal:
    """The caller: anonymous, or the holder of one API key."""

    key_id: int | None = None
    name: str | None = None
    agency: str | None = None
    role: str | None = None  # None: anonymous

    @property
    def anonymous(self) -> bool:
        return self.role is None

    @property
    def label(self) -> str:
        return "anonymous" if self.anonymous else f"{self.name} ({self.agency}, {self.role})"


ANONYMOUS = Principal()


def _grants(layer: Protected) -> dict[str, str]:
    """The agencies the owner shared ``layer`` (a layer or a raster collection) with."""
    return getattr(layer, "grants", None) or {}


def visible(layer: Protected, who: Principal) -> bool:
    """May ``who`` know that ``layer`` exists and read it?"""
    if layer.access_level == "public":
        return True
    if who.anonymous:
        return False
    if layer.access_level == "internal":
        return True
    return who.role in ("admin", "border") or who.agency == layer.owner or who.agency in _grants(layer)


def can_edit(layer: Protected, who: Principal) -> bool:
    """May ``who`` create, replace, update and delete features of ``layer``?"""
    if who.anonymous or not visible(layer, who):
        return False
    return who.role == "admin" or who.agency == layer.owner or _grants(layer).get(who.agency or "") == "edit"


def owner_or_admin(target: Protected, target_id: str, who: Principal | None, what: str) -> None:
    """``ForbiddenError`` unless ``who`` (None: the operator at the command line) owns ``target`` or is an admin."""
    if who is not None and not (who.role == "admin" or who.agency == target.owner):
        raise ForbiddenError(f"Chỉ cơ quan chủ quản hoặc quản trị / only the owning agency ({target.owner}) or an "
                             f"admin may {what} {target_id!r}")


def changed_grants(target: Protected, target_id: str, agency: str, permission: str | None,
                   who: Principal | None) -> dict[str, str]:
    """The grants of ``target`` once ``agency`` is given ``permission`` ("read" | "edit"; None: taken back),
    after checking who asks, the agency and the permission (layers and raster collections alike)."""
    owner_or_admin(target, target_id, who, "share")
    agencies = read_agencies()
    if agency not in agencies:
        raise InvalidInputError(f"Cơ quan không rõ / unknown agency {agency[:40]!r}; known: "
                                f"{', '.join(sorted(agencies))}")
    if permission not in (None, "read", "edit"):
        raise InvalidInputError(f"Quyền không rõ / unknown permission {permission!r}: read or edit")
    if agency == target.owner:
        raise InvalidInputError(f"{agency} là cơ quan chủ quản / {agency} owns {target_id!r} already")
    grants = {k: v for k, v in _grants(target).items() if k != agency}
    if permission is not None:
        grants[agency] = permission
    return grants


#: the agency whose staff (with admins) run processes (forest change) and read their jobs: the rangers
PROCESS_OWNER = "kiemlam"


def may_run_processes(who: Principal) -> bool:
    """May ``who`` execute OGC API processes and read their jobs (results hold internal events)?"""
    return not who.anonymous and (who.role == "admin" or who.agency == PROCESS_OWNER)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _split(key: str) -> str | None:
    parts = key.split("_")
    if len(parts) != 3 or parts[0] != "sdi" or len(parts[1]) != 8 or len(parts[2]) < 32:
        return None
    return parts[1]


def authenticate(engine: Engine, key: str | None) -> Principal | None:
    """The principal holding ``key``; ANONYMOUS without one; None for a wrong or revoked key."""
    if not key:
        return ANONYMOUS
    prefix = _split(key.strip())
    if prefix is None:
        return None
    with Session(engine) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_sha256,
                                                                                _digest(key.strip())):
            return None
        now = dt.datetime.now(dt.UTC)
        if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
            session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
            session.commit()
        return Principal(key_id=row.id, name=row.name, agency=row.agency, role=row.role)


#: How long a checked key is trusted without asking the database again: a revoked key stops
#: working within this time (the catalogue is re-checked at the same pace, see sdi.callers).
KEY_TTL_S = 1.0


class KeyCache:
    """Checked keys, kept for ``KEY_TTL_S``: the key check is one query per key per second instead
    of one per request (map tiles come 20 at a time). Only valid keys are kept (a new key works at
    once; a wrong one is asked about each time), by digest, at most ``size`` of them."""

    def __init__(self, engine: Engine, ttl: float = KEY_TTL_S, size: int = 4096) -> None:
        self.engine = engine
        self._cache: TTLCache[str, Principal] = TTLCache(maxsize=size, ttl=ttl)
        self._lock = threading.Lock()  # TTLCache is not thread-safe
        self._generation = 0  # bumped by ``forget``: a check that began before is not kept

    def forget(self) -> None:
        """Trust no key checked so far (another process revoked or deleted one: ``sdi.notify``)."""
        with self._lock:
            self._generation += 1
            self._cache.clear()

    def cached(self, key: str) -> Principal | None:
        """The principal of ``key`` if it was checked within the TTL (no database round trip)."""
        with self._lock:
            return self._cache.get(_digest(key.strip()))

    def check(self, key: str | None) -> Principal | None:
        """``authenticate``, remembering a valid key."""
        generation = self._generation
        who = authenticate(self.engine, key)
        if key:
            with self._lock:
                if who is not None and not who.anonymous and generation == self._generation:
                    self._cache[_digest(key.strip())] = who
                else:
                    self._cache.pop(_digest(key.strip()), None)
        return who


def add_key(engine: Engine, name: str, agency: str, role: str = "agency") -> str:
    """Create a key and return it; it is shown once and only its digest is kept."""
    agencies = read_agencies()
    if agency not in agencies:
        raise InvalidInputError(f"Cơ quan không rõ / unknown agency {agency!r}; known: {', '.join(sorted(agencies))}")
    if role not in ROLES:
        raise InvalidInputError(f"Vai trò không rõ / unknown role {role!r}; known: {', '.join(ROLES)}")
    if not name.strip() or len(name) > 128:
        raise InvalidInputError("Tên khoá phải có 1–128 ký tự / key name must be 1–128 characters")
    prefix = secrets.token_hex(4)
    key = f"sdi_{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
    with Session(engine) as session:
        session.add(ApiKey(name=name.strip(), agency=agency, role=role, prefix=prefix, secret_sha256=_digest(key)))
        try:
            session.commit()
        except IntegrityError as exc:
            raise InvalidInputError(f"Đã có khoá tên / a key named {name!r} already exists") from exc
    return key


def list_keys(engine: Engine) -> list[ApiKey]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(engine: Engine, name: str) -> None:
    """Revoke the key called ``name``; every door refuses it within ``KEY_TTL_S``."""
    with Session(engine) as session:
        result = session.execute(
            update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
            .values(revoked_at=dt.datetime.now(dt.UTC))
        )
        session.commit()
    if result.rowcount == 0:  # type: ignore[attr-defined]  # a CursorResult for UPDATE
        raise NotFoundError(f"Không có khoá đang hoạt động tên / no active key named {name!r}")
