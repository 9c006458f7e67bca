"""raster collection grants: agencies a raster collection is shared with (read or edit), as for layers

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-04 22:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('raster_collections', sa.Column('grants', postgresql.JSONB(astext_type=sa.Text()),
                                                  server_default=sa.text("'{}'::jsonb"), nullable=False))


def downgrade() -> None:
    op.drop_column('raster_collections', 'grants')
