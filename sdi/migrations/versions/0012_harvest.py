"""harvest sources: other agencies' OGC API Features / WFS 2.0 services copied into layers

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-04 22:45:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'harvest_sources',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('agency', sa.String(length=32), nullable=False),
        sa.Column('access_level', sa.String(length=16), nullable=False),
        sa.Column('collections', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"),
                  nullable=False),
        sa.Column('layers', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.Column('every_s', sa.Integer(), nullable=True),
        sa.Column('next_due', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_run', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('status', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.Column('created_by', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
        sa.CheckConstraint("kind IN ('oapif', 'wfs')", name='harvest_kind_known'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('url'),
    )


def downgrade() -> None:
    op.drop_table('harvest_sources')
