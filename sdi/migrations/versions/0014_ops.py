"""shared rate-limit windows: one UNLOGGED row per client × family × limit, counted by every replica

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-04 22:45:00
"""
from __future__ import annotations

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # UNLOGGED: counters of the last minute need no WAL, no replication and may be lost in a crash
    op.execute("CREATE UNLOGGED TABLE rate_limit_windows ("
               "key text PRIMARY KEY, hits integer NOT NULL, expires_at timestamptz NOT NULL)")


def downgrade() -> None:
    op.drop_table('rate_limit_windows')
