"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 07:46:24.538426
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# VN-2000 / TM-3 107°15′ (the province's projection) is newer than the EPSG copy in
# PostGIS 3.3 (Debian 12). Same definition and 7-parameter datum shift as PostGIS's own
# VN-2000 rows (EPSG:3405, 4756), so PROJ and pyproj agree to well under a metre.
_TOWGS84 = ("-191.90441429,-39.30318279,-111.45032835,"
            "0.00928836,-0.01975479,0.00427372,0.252906278")
_SRTEXT_9215 = (
    'PROJCS["VN-2000 / TM-3 107-15",GEOGCS["VN-2000",DATUM["Vietnam_2000",'
    'SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    f'TOWGS84[{_TOWGS84}],AUTHORITY["EPSG","6756"]],'
    'PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4756"]],'
    'PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],'
    'PARAMETER["central_meridian",107.25],PARAMETER["scale_factor",0.9999],'
    'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],'
    'UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],'
    'AUTHORITY["EPSG","9215"]]'
)
_PROJ4_9215 = (
    "+proj=tmerc +lat_0=0 +lon_0=107.25 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
    f"+towgs84={_TOWGS84} +units=m +no_defs"
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(
        sa.text(
            "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
            "VALUES (9215, 'EPSG', 9215, :srtext, :proj4) ON CONFLICT (srid) DO NOTHING"
        ).bindparams(srtext=_SRTEXT_9215, proj4=_PROJ4_9215)
    )
    op.create_geospatial_table('admin_units',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('full_name', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=True),
    sa.Column('full_name_en', sa.Text(), nullable=True),
    sa.Column('unit_type', sa.Text(), nullable=False),
    sa.Column('province_code', sa.String(length=4), nullable=False),
    sa.Column('merged_from_pre2025', sa.Text(), nullable=True),
    sa.Column('area_ha', sa.Float(), sa.Computed('round((ST_Area(ST_Transform(geom, 9215)) / 10000.0)::numeric, 4)', persisted=True), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("level IN ('province', 'commune')", name='level_known'),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_geospatial_index('idx_admin_units_geom', 'admin_units', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('border_gates',
    sa.Column('code', sa.String(length=63), nullable=False),
    sa.Column('name_vi', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=False),
    sa.Column('gate_type', sa.String(length=32), nullable=False),
    sa.Column('gate_type_vi', sa.Text(), nullable=True),
    sa.Column('mode', sa.String(length=16), nullable=True),
    sa.Column('paired_gate_cn', sa.Text(), nullable=True),
    sa.Column('landmarks', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('commune_code', sa.String(length=8), nullable=True),
    sa.Column('location_accuracy', sa.String(length=16), nullable=True),
    sa.Column('location_source', sa.Text(), nullable=True),
    sa.Column('location_note', sa.Text(), nullable=True),
    sa.Column('notes_vi', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_geospatial_index('idx_border_gates_geom', 'border_gates', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('border_line',
    sa.Column('code', sa.String(length=63), nullable=False),
    sa.Column('name_vi', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=False),
    sa.Column('length_km', sa.Float(), sa.Computed('round((ST_Length(ST_Transform(geom, 9215)) / 1000.0)::numeric, 3)', persisted=True), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_geospatial_index('idx_border_line_geom', 'border_line', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('forest_plots',
    sa.Column('plot_code', sa.String(length=40), nullable=False),
    sa.Column('commune_code', sa.String(length=8), nullable=False),
    sa.Column('forest_type', sa.String(length=16), nullable=False),
    sa.Column('forest_type_vi', sa.Text(), nullable=True),
    sa.Column('origin', sa.String(length=16), nullable=True),
    sa.Column('origin_vi', sa.Text(), nullable=True),
    sa.Column('species_vi', sa.Text(), nullable=True),
    sa.Column('owner_type', sa.String(length=32), nullable=True),
    sa.Column('owner_vi', sa.Text(), nullable=False),
    sa.Column('planted_year', sa.Integer(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('area_ha', sa.Float(), sa.Computed('round((ST_Area(ST_Transform(geom, 9215)) / 10000.0)::numeric, 4)', persisted=True), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("forest_type IN ('special_use', 'protection', 'production')", name='forest_type_known'),
    sa.PrimaryKeyConstraint('plot_code')
    )
    op.create_geospatial_index('idx_forest_plots_geom', 'forest_plots', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_forest_plots_commune_code'), 'forest_plots', ['commune_code'], unique=False)
    op.create_geospatial_table('industrial_parks',
    sa.Column('code', sa.String(length=63), nullable=False),
    sa.Column('name_vi', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('status_vi', sa.Text(), nullable=True),
    sa.Column('planned_area_ha', sa.Float(), nullable=True),
    sa.Column('developer', sa.Text(), nullable=True),
    sa.Column('commune_code', sa.String(length=8), nullable=True),
    sa.Column('location_accuracy', sa.String(length=16), nullable=True),
    sa.Column('location_source', sa.Text(), nullable=True),
    sa.Column('location_note', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("GeometryType(geom) IN ('POINT', 'MULTIPOLYGON')", name='geom_type'),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_geospatial_index('idx_industrial_parks_geom', 'industrial_parks', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_table('layers',
    sa.Column('id', sa.String(length=63), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('title_vi', sa.Text(), nullable=False),
    sa.Column('title_en', sa.Text(), nullable=False),
    sa.Column('abstract_vi', sa.Text(), nullable=False),
    sa.Column('abstract_en', sa.Text(), nullable=False),
    sa.Column('keywords', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('owner_agency', sa.Text(), nullable=False),
    sa.Column('owner_agency_en', sa.Text(), nullable=False),
    sa.Column('licence', sa.Text(), nullable=False),
    sa.Column('attribution', sa.Text(), nullable=False),
    sa.Column('access_level', sa.String(length=16), nullable=False),
    sa.Column('update_frequency', sa.String(length=32), nullable=False),
    sa.Column('geometry_type', sa.String(length=32), nullable=True),
    sa.Column('natural_key', sa.String(length=63), nullable=False),
    sa.Column('required_columns', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('feature_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('extent', sa.ARRAY(sa.Float()), nullable=True),
    sa.Column('last_updated', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("access_level IN ('public', 'internal', 'restricted')", name='access_level_known'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('table_name')
    )
    op.create_geospatial_table('poi_osm',
    sa.Column('osm_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('name_en', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('amenity', sa.Text(), nullable=True),
    sa.Column('tourism', sa.Text(), nullable=True),
    sa.Column('shop', sa.Text(), nullable=True),
    sa.Column('opening_hours', sa.Text(), nullable=True),
    sa.Column('commune_code', sa.String(length=8), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('osm_id')
    )
    op.create_geospatial_index('idx_poi_osm_geom', 'poi_osm', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_table('problems',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title_vi', sa.Text(), nullable=False),
    sa.Column('title_en', sa.Text(), nullable=False),
    sa.Column('summary_en', sa.Text(), nullable=True),
    sa.Column('lead_agency_vi', sa.Text(), nullable=False),
    sa.Column('lead_agency_en', sa.Text(), nullable=True),
    sa.Column('partner_agencies_vi', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('outputs_vi', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('metrics_vi', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('milestones_vi', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.Column('basis_vi', sa.Text(), nullable=True),
    sa.Column('source_document', sa.Text(), nullable=False),
    sa.Column('themes', sa.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    sa.PrimaryKeyConstraint('code'),
    sa.UniqueConstraint('year', 'number', name='problems_year_number')
    )
    op.create_geospatial_table('rivers',
    sa.Column('gid', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('wdb_level', sa.Integer(), nullable=False),
    sa.Column('wdb_class', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('gid')
    )
    op.create_geospatial_index('idx_rivers_geom', 'rivers', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('transport_network',
    sa.Column('gid', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('road_class_vi', sa.Text(), nullable=True),
    sa.Column('kind_vi', sa.Text(), nullable=True),
    sa.Column('kind_en', sa.String(length=32), nullable=False),
    sa.Column('class_en', sa.String(length=32), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('gid')
    )
    op.create_geospatial_index('idx_transport_network_geom', 'transport_network', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_table('layer_loads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('layer_id', sa.String(length=63), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('inserted', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('report', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.ForeignKeyConstraint(['layer_id'], ['layers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_table('pilot_sites',
    sa.Column('code', sa.String(length=63), nullable=False),
    sa.Column('problem_code', sa.String(length=16), nullable=False),
    sa.Column('name_vi', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=False),
    sa.Column('agency_vi', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='planned', nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('description_vi', sa.Text(), nullable=True),
    sa.Column('description_en', sa.Text(), nullable=True),
    sa.Column('location_source', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("GeometryType(geom) IN ('POINT', 'MULTIPOLYGON')", name='geom_type'),
    sa.CheckConstraint("status IN ('planned', 'active', 'completed')", name='status_known'),
    sa.CheckConstraint('end_date IS NULL OR start_date IS NULL OR end_date >= start_date', name='dates_ordered'),
    sa.ForeignKeyConstraint(['problem_code'], ['problems.code'], ),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_geospatial_index('idx_pilot_sites_geom', 'pilot_sites', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})


def downgrade() -> None:
    op.drop_geospatial_index('idx_pilot_sites_geom', table_name='pilot_sites', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('pilot_sites')
    op.drop_table('layer_loads')
    op.drop_geospatial_index('idx_transport_network_geom', table_name='transport_network', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('transport_network')
    op.drop_geospatial_index('idx_rivers_geom', table_name='rivers', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('rivers')
    op.drop_table('problems')
    op.drop_geospatial_index('idx_poi_osm_geom', table_name='poi_osm', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('poi_osm')
    op.drop_table('layers')
    op.drop_geospatial_index('idx_industrial_parks_geom', table_name='industrial_parks', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('industrial_parks')
    op.drop_index(op.f('ix_forest_plots_commune_code'), table_name='forest_plots')
    op.drop_geospatial_index('idx_forest_plots_geom', table_name='forest_plots', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('forest_plots')
    op.drop_geospatial_index('idx_border_line_geom', table_name='border_line', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('border_line')
    op.drop_geospatial_index('idx_border_gates_geom', table_name='border_gates', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('border_gates')
    op.drop_geospatial_index('idx_admin_units_geom', table_name='admin_units', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('admin_units')
