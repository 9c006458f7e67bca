"""Sharing a layer with named agencies, beyond its access level, and who read it.

The owner (or an admin) grants ``read`` or ``edit`` to an agency (``sdi layers share``,
``PUT /layers/{id}/grants/{agency}``) or takes it back; the grants live in the layer's catalogue row,
so a change reaches every door within a second, with the rest of the catalogue (``sdi.callers``).
``access_log`` lists every read of a restricted layer and every edit (written by the doors before
their responses leave); the owner and admins may read it.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Engine, select, update

from layers.catalog import Layer, get_layer, load_catalog
from sdi.access import Principal
from sdi.agencies import read_agencies
from sdi.errors import ForbiddenError, InvalidInputError
from sdi.models import AccessLogEntry, LayerRecord

Permission = Literal["read", "edit"]
MAX_LOG = 1000


def _owner_or_admin(layer: Layer, who: Principal | None, what: str) -> None:
    if who is not None and not (who.role == "admin" or who.agency == layer.owner):
        raise ForbiddenError(f"Chỉ cơ quan chủ quản hoặc quản trị / only the owning agency ({layer.owner}) or an "
                             f"admin may {what} {layer.id!r}")


def share(engine: Engine, layer_id: str, agency: str, permission: Permission | None,
          who: Principal | None = None) -> Layer:
    """Grant ``permission`` on the layer to ``agency`` (None: take the grant back); the layer as it now stands."""
    layer = get_layer(load_catalog(engine), layer_id)
    _owner_or_admin(layer, who, "share")
    agencies = read_agencies()
    if agency not in agencies:
        raise InvalidInputError(f"Cơ quan không rõ / unknown agency {agency[:40]!r}; known: "
                                f"{', '.join(sorted(agencies))}")
    if permission not in (None, "read", "edit"):
        raise InvalidInputError(f"Quyền không rõ / unknown permission {permission!r}: read or edit")
    if agency == layer.owner:
        raise InvalidInputError(f"{agency} là cơ quan chủ quản / {agency} owns the layer already")
    grants = {k: v for k, v in layer.grants.items() if k != agency}
    if permission is not None:
        grants[agency] = permission
    with engine.begin() as conn:
        conn.execute(update(LayerRecord).where(LayerRecord.id == layer_id).values(grants=grants))
    return get_layer(load_catalog(engine), layer_id)


def access_log(engine: Engine, layer_id: str, who: Principal | None = None, limit: int = MAX_LOG) -> list[dict]:
    """The layer's access log, newest first (restricted reads and every edit)."""
    layer = get_layer(load_catalog(engine), layer_id)
    _owner_or_admin(layer, who, "read the access log of")
    e = AccessLogEntry
    stmt = (select(e.id, e.at, e.key_name, e.action, e.method, e.path, e.status).where(e.layer_id == layer_id)
            .order_by(AccessLogEntry.id.desc()).limit(min(limit, MAX_LOG)))
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()} for row in rows]
