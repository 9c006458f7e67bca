"""unpublished layers kept for a restore: layer_trash, and their tables in the schema ``trash``

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:30:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS trash")
    op.create_table('layer_trash',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('layer_id', sa.String(length=63), nullable=False),
    sa.Column('trash_table', sa.String(length=63), nullable=False),
    sa.Column('record', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('loads', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('deleted_by', sa.Text(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('trash_table')
    )
    op.create_index(op.f('ix_layer_trash_layer_id'), 'layer_trash', ['layer_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_layer_trash_layer_id'), table_name='layer_trash')
    op.drop_table('layer_trash')
    op.execute("DROP SCHEMA IF EXISTS trash CASCADE")
