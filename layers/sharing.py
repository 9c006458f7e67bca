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
from sdi.access import Principal, changed_grants, owner_or_admin
from sdi.models import AccessLogEntry, LayerRecord

Permission = Literal["read", "edit"]
MAX_LOG = 1000


def share(engine: Engine, layer_id: str, agency: str, permission: Permission | None,
          who: Principal | None = None) -> Layer:
    """Grant ``permission`` on the layer to ``agency`` (None: take the grant back); the layer as it now stands."""
    layer = get_layer(load_catalog(engine), layer_id)
    grants = changed_grants(layer, layer_id, agency, permission, who)
    with engine.begin() as conn:
        conn.execute(update(LayerRecord).where(LayerRecord.id == layer_id).values(grants=grants))
    return get_layer(load_catalog(engine), layer_id)


def access_log(engine: Engine, layer_id: str, who: Principal | None = None, limit: int = MAX_LOG) -> list[dict]:
    """The layer's access log, newest first (restricted reads and every edit)."""
    layer = get_layer(load_catalog(engine), layer_id)
    owner_or_admin(layer, layer_id, who, "read the access log of")
    e = AccessLogEntry
    stmt = (select(e.id, e.at, e.key_name, e.action, e.method, e.path, e.status).where(e.layer_id == layer_id)
            .order_by(AccessLogEntry.id.desc()).limit(min(limit, MAX_LOG)))
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()} for row in rows]
