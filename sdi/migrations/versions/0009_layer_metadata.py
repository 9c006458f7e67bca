"""layer metadata: English keywords, contact, lineage, temporal extent, scale

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:35:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('layers', sa.Column('keywords_en', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"),
                                      nullable=False))
    op.add_column('layers', sa.Column('contact', sa.Text(), nullable=True))
    op.add_column('layers', sa.Column('lineage', sa.Text(), nullable=True))
    op.add_column('layers', sa.Column('temporal_start', sa.DateTime(timezone=True), nullable=True))
    op.add_column('layers', sa.Column('temporal_end', sa.DateTime(timezone=True), nullable=True))
    op.add_column('layers', sa.Column('scale_denominator', sa.Integer(), nullable=True))


def downgrade() -> None:
    for column in ('scale_denominator', 'temporal_end', 'temporal_start', 'lineage', 'contact', 'keywords_en'):
        op.drop_column('layers', column)
