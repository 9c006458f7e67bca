"""published layers: their columns in the catalogue, their tables in the schema ``published``;
default band names of raster collections in the database (collections agencies create)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:05:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS published")
    op.add_column('layers', sa.Column('columns', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('layers', sa.Column('created_by', sa.Text(), nullable=True))
    op.add_column('layers', sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                                      nullable=True))
    op.add_column('raster_collections', sa.Column('bands', postgresql.ARRAY(sa.Text()),
                                                  server_default=sa.text("'{}'::text[]"), nullable=False))


def downgrade() -> None:
    op.drop_column('raster_collections', 'bands')
    op.execute("DELETE FROM layers WHERE columns IS NOT NULL")  # published layers: their tables go below
    op.drop_column('layers', 'created_at')
    op.drop_column('layers', 'created_by')
    op.drop_column('layers', 'columns')
    op.execute("DROP SCHEMA IF EXISTS published CASCADE")
