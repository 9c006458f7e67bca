"""access control: agency owners, api keys, access log, border belt

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 20:33:06.443602
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('agency', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('agency', 'border', 'admin')", name='role_known'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('prefix')
    )
    op.create_geospatial_table('border_belt',
    sa.Column('code', sa.String(length=63), nullable=False),
    sa.Column('name_vi', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=False),
    sa.Column('width_m', sa.Float(), nullable=False),
    sa.Column('commune_code', sa.String(length=8), nullable=True),
    sa.Column('basis', sa.Text(), nullable=True),
    sa.Column('area_ha', sa.Float(), sa.Computed('round((ST_Area(ST_Transform(geom, 9215)) / 10000.0)::numeric, 4)', persisted=True), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_geospatial_index('idx_border_belt_geom', 'border_belt', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_table('access_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=True),
    sa.Column('key_name', sa.String(length=128), nullable=True),
    sa.Column('layer_id', sa.String(length=63), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['api_keys.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.add_column('layers', sa.Column('owner', sa.String(length=32), server_default='', nullable=False))


def downgrade() -> None:
    op.drop_column('layers', 'owner')
    op.drop_table('access_log')
    op.drop_geospatial_index('idx_border_belt_geom', table_name='border_belt', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('border_belt')
    op.drop_table('api_keys')
