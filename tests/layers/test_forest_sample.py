"""The synthetic forest-plot sample: geometry, codes, attribute mix and determinism.

Real bundled data, no database: one generation of a smaller sample (3,000 plots) is shared
by the module; two more runs check determinism.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.forest_sample import COLUMNS, SAMPLE_SOURCE, generate_forest_plots, load_inputs

DATA = Path(__file__).resolve().parents[2] / "data"
TARGET = 3_000
TM3 = "EPSG:9215"  # VN-2000 / TM-3, the database's area CRS
UTM = "EPSG:32648"
CODE = re.compile(r"^\d{5}-TK\d{3}-K\d{2}-L\d{3}$")


@pytest.fixture(scope="module")
def sample() -> dict:
    inputs = load_inputs(DATA)
    plots = generate_forest_plots(**inputs, target=TARGET)
    province = shapely.union_all(inputs["communes"].geometry.to_numpy())
    return {"inputs": inputs, "plots": plots, "province": province}


def test_count_columns_and_source(sample: dict) -> None:
    plots = sample["plots"]
    assert abs(len(plots) - TARGET) <= 0.1 * TARGET
    assert list(plots.columns) == COLUMNS
    assert plots.crs.to_epsg() == 4326
    assert (plots["source"] == SAMPLE_SOURCE).all()


def test_plot_codes_unique_and_inventory_style(sample: dict) -> None:
    plots = sample["plots"]
    assert plots["plot_code"].is_unique
    assert plots["plot_code"].map(lambda c: bool(CODE.match(c))).all()
    assert (plots["plot_code"].str[:5] == plots["commune_code"]).all()


def test_geometries_valid_multipolygons_inside_province(sample: dict) -> None:
    geoms = sample["plots"].geometry.to_numpy()
    assert (shapely.get_type_id(geoms) == 6).all()
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    assert shapely.covered_by(geoms, shapely.buffer(sample["province"], 1e-7)).all()
    coords = shapely.get_coordinates(geoms)
    assert np.allclose(coords, np.round(coords, 7), rtol=0, atol=1e-12)


def test_no_overlaps(sample: dict) -> None:
    geoms = sample["plots"].to_crs(TM3).geometry.to_numpy()
    areas = shapely.area(geoms)
    assert areas.sum() == pytest.approx(shapely.union_all(geoms).area, rel=1e-3)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="overlaps")
    pairs = left < right
    assert shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]])).sum() < 1.0  # m²


def test_plot_sizes_and_forest_cover(sample: dict) -> None:
    hectares = sample["plots"].to_crs(TM3).area / 1e4
    province_ha = sample["inputs"]["communes"].to_crs(TM3).area.sum() / 1e4
    assert hectares.min() >= 0.45
    assert 0.5 <= hectares.sum() / province_ha <= 0.7


def test_commune_code_is_the_commune_containing_the_plot(sample: dict) -> None:
    communes, plots = sample["inputs"]["communes"], sample["plots"]
    points = shapely.point_on_surface(plots.geometry.to_numpy())
    plot_idx, commune_idx = shapely.STRtree(communes.geometry.to_numpy()).query(points, predicate="within")
    found = dict(zip(plot_idx, communes["code"].to_numpy()[commune_idx], strict=False))
    assert len(found) == len(plots)
    assert all(found[i] == code for i, code in enumerate(plots["commune_code"]))


def test_no_plot_in_exclusion_buffers(sample: dict) -> None:
    excluded = shapely.union_all(sample["inputs"]["exclusions"].to_numpy())
    core = shapely.buffer(excluded, -1e-6)  # ≈ 10 cm inside: plots may only touch the buffers
    assert not shapely.intersects(sample["plots"].geometry.to_numpy(), core).any()


def test_forest_type_mix(sample: dict) -> None:
    plots = sample["plots"]
    share = plots["forest_type"].value_counts(normalize=True)
    assert 0.03 <= share["special_use"] <= 0.10
    assert 0.20 <= share["protection"] <= 0.40
    assert 0.50 <= share["production"] <= 0.75
    labels = {"special_use": "Rừng đặc dụng", "protection": "Rừng phòng hộ", "production": "Rừng sản xuất"}
    assert (plots["forest_type"].map(labels) == plots["forest_type_vi"]).all()


def test_special_use_in_reserves(sample: dict) -> None:
    plots = sample["plots"].to_crs(UTM)
    points = plots.geometry.representative_point()
    (huu_lien, lon, lat, radius), *_ = sample["inputs"]["reserves"]
    centre = gpd.GeoSeries.from_xy([lon], [lat], crs="EPSG:4326").to_crs(UTM).iloc[0]
    near = points.distance(centre) <= radius
    assert near.sum() > 0
    assert (plots.loc[near, "forest_type"] == "special_use").all()
    assert (plots.loc[near, "owner_vi"] == f"Ban quản lý {huu_lien}").all()
    special = plots["forest_type"] == "special_use"
    assert (plots.loc[special, "owner_type"] == "management_board").all()
    assert (plots.loc[special, "origin"] == "natural").mean() >= 0.9


def test_protection_share_higher_near_border(sample: dict) -> None:
    plots = sample["plots"].to_crs(UTM)
    border = shapely.union_all(sample["inputs"]["border"].to_crs(UTM).to_numpy())
    distance = plots.geometry.representative_point().distance(border)
    protection = plots["forest_type"] == "protection"
    band, rest = distance <= 4_900, distance > 5_100
    assert band.sum() > 0
    assert protection[band].mean() > protection[rest].mean()
    assert protection[band & (plots["forest_type"] != "special_use")].all()


def test_origin_species_owner_and_planting_year(sample: dict) -> None:
    plots = sample["plots"]
    planted = plots["origin"] == "planted"
    assert set(plots["origin"]) == {"natural", "planted"}
    assert (plots["origin_vi"] == np.where(planted, "Rừng trồng", "Rừng tự nhiên")).all()
    assert plots.loc[~planted, "planted_year"].isna().all()
    assert plots.loc[planted, "planted_year"].between(1995, 2024).all()
    production = plots["forest_type"] == "production"
    assert planted[production].mean() > 0.6
    assert set(plots.loc[planted, "species_vi"]) <= {"Keo", "Thông mã vĩ", "Hồi", "Bạch đàn", "Quế"}
    assert "Rừng trên núi đá vôi" in set(plots.loc[~planted, "species_vi"])
    assert set(plots["owner_type"]) <= {"management_board", "household", "community", "commune_committee",
                                        "enterprise"}
    owners = plots.loc[production, "owner_type"].value_counts(normalize=True)
    assert owners[["household", "enterprise"]].sum() > 0.5
    assert plots["owner_vi"].notna().all()


def test_deterministic_for_a_seed(sample: dict) -> None:
    again = generate_forest_plots(**sample["inputs"], target=TARGET)
    first = sample["plots"]
    assert again.drop(columns="geometry").equals(first.drop(columns="geometry"))
    assert (shapely.to_wkb(again.geometry.to_numpy()) == shapely.to_wkb(first.geometry.to_numpy())).all()
    other = generate_forest_plots(**sample["inputs"], target=TARGET, seed=7)
    assert len(other) != len(first) or not shapely.equals(other.geometry.to_numpy(), first.geometry.to_numpy()).all()


def test_zero_target_gives_an_empty_layer(sample: dict) -> None:
    empty = generate_forest_plots(sample["inputs"]["communes"], target=0)
    assert empty.empty
    assert list(empty.columns) == COLUMNS
