"""layer grants: agencies a layer is shared with (read or edit), in the layer's catalogue row

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:45:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('layers', sa.Column('grants', postgresql.JSONB(astext_type=sa.Text()),
                                      server_default=sa.text("'{}'::jsonb"), nullable=False))


def downgrade() -> None:
    op.drop_column('layers', 'grants')
