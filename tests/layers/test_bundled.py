"""The bundled province data: real boundaries, gates, problems, pilot sites, forest sample.

Also the idempotency promise: a second `sdi up` adds nothing, a forced reload duplicates nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import yaml
from pyproj import Geod
from sqlalchemy import text

from layers.bundled import BUNDLED, seed_bundled
from layers.catalog import load_catalog
from layers.forest_sample import SAMPLE_SOURCE

GEOD = Geod(ellps="WGS84")


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql).bindparams(**params)).scalar_one()


def test_every_bundled_dataset_loaded(seeded, catalog):
    assert set(seeded) == set(BUNDLED)
    for layer_id in BUNDLED:
        assert catalog[layer_id].feature_count > 0, layer_id
        assert catalog[layer_id].last_updated is not None


def test_communes_and_province(engine, seeded):
    assert scalar(engine, "SELECT count(*) FROM admin_units WHERE level = 'commune'") == 65
    assert scalar(engine, "SELECT count(*) FROM admin_units WHERE level = 'province'") == 1
    assert scalar(engine, "SELECT count(*) FROM admin_units WHERE code !~ '^[0-9]{5}$' AND level = 'commune'") == 0
    assert scalar(engine, "SELECT full_name FROM admin_units WHERE code = '05977'") == "Phường Đông Kinh"
    province_km2 = scalar(engine, "SELECT area_ha / 100 FROM admin_units WHERE level = 'province'")
    communes_km2 = scalar(engine, "SELECT sum(area_ha) / 100 FROM admin_units WHERE level = 'commune'")
    assert province_km2 == pytest.approx(8310, rel=0.03)  # Lạng Sơn ≈ 8,310 km²
    assert communes_km2 == pytest.approx(province_km2, rel=1e-3)
    assert scalar(engine, "SELECT bool_and(ST_IsValid(geom)) FROM admin_units")


def test_problems_both_lists(engine, seeded):
    assert scalar(engine, "SELECT count(*) FROM problems WHERE year = 2026") == 20
    assert scalar(engine, "SELECT count(*) FROM problems WHERE year = 2025") == 10
    sdi = scalar(engine, "SELECT title_vi FROM problems WHERE code = '2026-14'")
    assert "dữ liệu không gian" in sdi.lower()
    assert "UAV" in scalar(engine, "SELECT title_vi FROM problems WHERE code = '2026-16'")
    assert scalar(engine, "SELECT count(*) FROM problems WHERE title_en = '' OR source_document = ''") == 0


def test_huu_nghi_gate_at_its_published_position(engine, seeded):
    with engine.connect() as conn:
        lon, lat, accuracy = conn.execute(text(
            "SELECT ST_X(geom), ST_Y(geom), location_accuracy FROM border_gates WHERE code = 'huu_nghi'")).one()
    _, _, metres = GEOD.inv(lon, lat, 106.71222, 21.97639)  # en.wikipedia "Friendship Pass"
    assert metres < 500 and accuracy == "published"


def test_gates_lie_near_the_border_and_say_how_they_were_placed(engine, seeded, data_dir):
    bundled = [g["code"] for g in yaml.safe_load((data_dir / "seed/border_gates.yaml").read_text())]
    with engine.connect() as conn:  # other tests load their own gates: look at the bundled ones
        rows = conn.execute(text(
            "SELECT g.code, ST_Distance(g.geom::geography, b.geom::geography), g.location_accuracy, "
            "g.location_source FROM border_gates g, border_line b WHERE g.code = ANY(:codes)")
            .bindparams(codes=bundled)).all()
    assert len(rows) >= 7
    for code, distance, accuracy, source in rows:
        assert distance < 6000, code  # every gate is on the border
        assert accuracy in ("published", "approximate") and source, code


def test_pilot_sites_cover_the_named_problems(engine, seeded):
    with engine.connect() as conn:
        problems = set(conn.execute(text("SELECT DISTINCT problem_code FROM pilot_sites")).scalars())
    assert {"2026-1", "2026-12", "2026-13", "2026-14", "2026-16"} <= problems
    # the forest-monitoring pilots are areas, not points
    assert scalar(engine, "SELECT count(*) FROM pilot_sites WHERE problem_code = '2026-16' "
                          "AND GeometryType(geom) = 'MULTIPOLYGON'") >= 1


def test_forest_plots_sample(engine, settings, seeded):
    count = scalar(engine, "SELECT count(*) FROM forest_plots")
    assert count == pytest.approx(settings.forest_sample_target, rel=0.1)
    assert scalar(engine, "SELECT count(*) FROM forest_plots WHERE source <> :s", s=SAMPLE_SOURCE) == 0
    # each plot lies in the commune it names
    assert scalar(engine, """
        SELECT count(*) FROM forest_plots f JOIN admin_units a ON a.code = f.commune_code
        WHERE NOT ST_Intersects(a.geom, ST_PointOnSurface(f.geom))""") == 0
    assert scalar(engine, "SELECT count(DISTINCT forest_type) FROM forest_plots") == 3


def test_area_is_computed_in_vn2000_tm3(engine, seeded):
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT ST_AsBinary(geom), area_ha FROM forest_plots "
                                 "ORDER BY plot_code LIMIT 50")).all()
    from pyproj import Transformer

    tm3 = Transformer.from_crs(4326, 9215, always_xy=True)
    for wkb, area_ha in rows:
        geom = shapely.from_wkb(bytes(wkb))
        projected = shapely.transform(geom, lambda xy: np.column_stack(tm3.transform(xy[:, 0], xy[:, 1])))
        assert area_ha == pytest.approx(projected.area / 10_000, rel=1e-4, abs=1e-3)


def test_second_up_adds_nothing_and_forced_reload_duplicates_nothing(engine, settings, seeded):
    before = {k: v.feature_count for k, v in load_catalog(engine).items()}
    again = seed_bundled(engine, settings)
    assert all(report is None for report in again.values())  # skipped: checksums unchanged
    forced = seed_bundled(engine, settings, only=["admin_units", "problems"], force=True)
    for layer_id, report in forced.items():
        assert report.counts.inserted == 0 and report.counts.updated == before[layer_id]
    after = {k: v.feature_count for k, v in load_catalog(engine).items()}
    assert after == before


def test_up_keeps_edits_made_since(engine, settings, seeded):
    """A ranger's correction (here through load_frame, as the OGC API does) survives `sdi up`."""
    import geopandas as gpd
    from sqlalchemy import text

    from layers.loader import load_frame

    catalog = load_catalog(engine)
    with engine.connect() as conn:
        code = conn.execute(text("SELECT plot_code FROM forest_plots ORDER BY 1 LIMIT 1")).scalar_one()
    frame = gpd.read_postgis(text("SELECT * FROM forest_plots WHERE plot_code = :c").bindparams(c=code),
                             engine, geom_col="geom").drop(columns=["area_ha"])
    frame["species_vi"] = "Lim xanh (đã sửa / corrected)"
    load_frame(frame.rename_geometry("geometry"), catalog["forest_plots"], engine=engine, settings=settings,
               source="OGC API (test)", if_exists="upsert")
    again = seed_bundled(engine, settings, only=["forest_plots"])
    assert again["forest_plots"] is None  # not reloaded over the edit
    with engine.connect() as conn:
        species = conn.execute(text("SELECT species_vi FROM forest_plots WHERE plot_code = :c"), {"c": code}).scalar()
    assert species == "Lim xanh (đã sửa / corrected)"
