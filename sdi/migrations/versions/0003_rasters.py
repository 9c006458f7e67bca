"""rasters

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:07:37.152640
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('raster_collections',
    sa.Column('id', sa.String(length=63), nullable=False),
    sa.Column('title_vi', sa.Text(), nullable=False),
    sa.Column('title_en', sa.Text(), nullable=False),
    sa.Column('description_vi', sa.Text(), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=False),
    sa.Column('keywords', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('owner', sa.String(length=32), nullable=False),
    sa.Column('licence', sa.Text(), nullable=False),
    sa.Column('access_level', sa.String(length=16), server_default='public', nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.CheckConstraint("access_level IN ('public', 'internal', 'restricted')", name='raster_access_level_known'),
    sa.CheckConstraint("kind IN ('rgb', 'multispectral', 'sentinel2', 'dem', 'categorical')", name='raster_kind_known'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_table('raster_items',
    sa.Column('id', sa.String(length=127), nullable=False),
    sa.Column('collection_id', sa.String(length=63), nullable=False),
    sa.Column('datetime', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('href', sa.Text(), nullable=False),
    sa.Column('cog_sha256', sa.String(length=64), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('platform', sa.Text(), nullable=True),
    sa.Column('gsd_m', sa.Float(), nullable=True),
    sa.Column('epsg', sa.Integer(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('band_count', sa.Integer(), nullable=True),
    sa.Column('stac', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('footprint', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'ready')", name='raster_status_known'),
    sa.ForeignKeyConstraint(['collection_id'], ['raster_collections.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('href'),
    sa.UniqueConstraint('source_sha256')
    )
    op.create_geospatial_index('idx_raster_items_footprint', 'raster_items', ['footprint'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_raster_items_collection_id'), 'raster_items', ['collection_id'], unique=False)
    op.create_index(op.f('ix_raster_items_datetime'), 'raster_items', ['datetime'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_raster_items_datetime'), table_name='raster_items')
    op.drop_index(op.f('ix_raster_items_collection_id'), table_name='raster_items')
    op.drop_geospatial_index('idx_raster_items_footprint', table_name='raster_items', postgresql_using='gist', column_name='footprint')
    op.drop_geospatial_table('raster_items')
    op.drop_table('raster_collections')
