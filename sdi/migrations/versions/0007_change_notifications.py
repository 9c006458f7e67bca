"""change notifications: NOTIFY sdi_changes from api_keys, layers, raster_collections, raster_items

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:10:00
"""
from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# One statement-level trigger per table (sdi.notify): the payload is the table's name; PostgreSQL sends
# it when the transaction commits, once per transaction however many statements touched the table.
# api_keys: revocations and deletions only (not the last_used_at every key check updates).
_TRIGGERS = {
    'api_keys': 'AFTER UPDATE OF revoked_at OR DELETE',
    'layers': 'AFTER INSERT OR UPDATE OR DELETE',
    'raster_collections': 'AFTER INSERT OR UPDATE OR DELETE',
    'raster_items': 'AFTER INSERT OR UPDATE OR DELETE',
}


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION sdi_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('sdi_changes', TG_TABLE_NAME);
            RETURN NULL;
        END $$
    """)
    quote = op.get_bind().dialect.identifier_preparer.quote  # identifiers quoted by SQLAlchemy
    for table, events in _TRIGGERS.items():
        op.execute(f'CREATE TRIGGER {quote(table + "_notify")} {events} ON {quote(table)} '
                   'FOR EACH STATEMENT EXECUTE FUNCTION sdi_notify_change()')


def downgrade() -> None:
    quote = op.get_bind().dialect.identifier_preparer.quote
    for table in _TRIGGERS:
        op.execute(f'DROP TRIGGER IF EXISTS {quote(table + "_notify")} ON {quote(table)}')
    op.execute('DROP FUNCTION IF EXISTS sdi_notify_change()')
