"""Unpublish a published layer, keep it recoverable, restore it: ``sdi layers delete | restore | purge``
and ``DELETE /layers/{id}``.

Unpublishing is one transaction: the catalogue row and the layer's load log are kept as JSON in
``layer_trash`` (PostgreSQL's own ``to_jsonb`` / ``jsonb_populate_record``: every column comes back
with its type), the table moves to the schema ``trash`` under a dated name, and the row leaves
``layers`` — so the layer leaves every door at once (the catalogue changed). A restore reverses it,
if the id is still free. ``purge`` drops what has been in the trash longer than ``SDI_TRASH_DAYS``.
Bundled layers are part of the platform and cannot be unpublished.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import JSONB

from layers.catalog import Layer, get_layer, load_catalog
from layers.published import SCHEMA, lock_layer_id
from sdi.access import Principal, can_edit
from sdi.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from sdi.models import LayerRecord, LayerTrash

TRASH = "trash"


def _move(conn: Connection, schema: str, table: str, to_schema: str, to_table: str) -> None:
    quote = conn.dialect.identifier_preparer.quote  # identifiers quoted by SQLAlchemy, from the catalogue
    conn.execute(text(f"ALTER TABLE {quote(schema)}.{quote(table)} SET SCHEMA {quote(to_schema)}"))
    if to_table != table:
        conn.execute(text(f"ALTER TABLE {quote(to_schema)}.{quote(table)} RENAME TO {quote(to_table)}"))


def unpublish(engine: Engine, layer_id: str, who: Principal | None = None) -> str:
    """Take a published layer off every door, keeping it in the trash; the trash table's name."""
    layer = get_layer(load_catalog(engine), layer_id)
    if not layer.published:
        raise InvalidInputError(f"Lớp có sẵn của nền tảng / {layer_id!r} is a bundled layer of the platform: it "
                                "cannot be unpublished (only layers published with sdi layers create / POST /layers)")
    if who is not None and not can_edit(layer, who):
        raise ForbiddenError(f"Chỉ cơ quan chủ quản hoặc quản trị / only the owning agency ({layer.owner}) or an "
                             f"admin may unpublish {layer_id!r}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    trash_table = f"{layer.table[:38]}__{stamp}"
    with engine.begin() as conn:
        lock_layer_id(conn, layer_id)
        record = conn.execute(text("SELECT to_jsonb(l) FROM layers l WHERE id = :i"), {"i": layer_id}).scalar()
        if record is None:
            raise NotFoundError(f"Không có lớp / no layer {layer_id!r}")
        loads = conn.execute(text("SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.id), '[]') FROM layer_loads x "
                                  "WHERE layer_id = :i"), {"i": layer_id}).scalar()
        conn.execute(insert(LayerTrash).values(
            layer_id=layer_id, trash_table=trash_table, record=record, loads=loads,
            deleted_by=who.label if who is not None else "sdi layers delete"))
        conn.execute(delete(LayerRecord).where(LayerRecord.id == layer_id))  # its load log goes with it
        _move(conn, SCHEMA, layer.table, TRASH, trash_table)
    return trash_table


def restore(engine: Engine, layer_id: str, who: Principal | None = None) -> Layer:
    """Put the most recently unpublished layer ``layer_id`` back, as it was."""
    with engine.begin() as conn:
        lock_layer_id(conn, layer_id)
        entry = conn.execute(select(LayerTrash).where(LayerTrash.layer_id == layer_id)
                             .order_by(LayerTrash.deleted_at.desc()).limit(1)).first()
        if entry is None:
            raise NotFoundError(f"Không có lớp đã gỡ / no unpublished layer {layer_id!r} in the trash")
        if who is not None and not (who.role == "admin" or who.agency == entry.record.get("owner")):
            raise ForbiddenError(f"Chỉ cơ quan chủ quản hoặc quản trị / only the owning agency or an admin may "
                                 f"restore {layer_id!r}")
        if conn.scalar(select(func.count()).select_from(LayerRecord).where(LayerRecord.id == layer_id)):
            raise ConflictError(f"Mã lớp đang được dùng / a layer {layer_id!r} exists again: unpublish or rename it "
                                "first")
        _move(conn, TRASH, entry.trash_table, SCHEMA, entry.record["table_name"])
        conn.execute(text("INSERT INTO layers SELECT * FROM jsonb_populate_record(NULL::layers, :r)")
                     .bindparams(bindparam("r", type_=JSONB)), {"r": entry.record})
        conn.execute(text("INSERT INTO layer_loads SELECT * FROM jsonb_populate_recordset(NULL::layer_loads, :l)")
                     .bindparams(bindparam("l", type_=JSONB)), {"l": entry.loads})
        conn.execute(delete(LayerTrash).where(LayerTrash.id == entry.id))
    return get_layer(load_catalog(engine), layer_id)


def purge(engine: Engine, older_than_days: float) -> list[str]:
    """Drop the trash older than ``older_than_days``; the layer ids purged."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=older_than_days)
    purged = []
    with engine.begin() as conn:
        quote = conn.dialect.identifier_preparer.quote
        for entry in conn.execute(select(LayerTrash).where(LayerTrash.deleted_at < cutoff)).all():
            conn.execute(text(f"DROP TABLE IF EXISTS {quote(TRASH)}.{quote(entry.trash_table)}"))
            conn.execute(delete(LayerTrash).where(LayerTrash.id == entry.id))
            purged.append(entry.layer_id)
    return purged
