"""The province's bundled datasets (``data/``), loaded through the same checks as any file.

Each dataset is loaded once: a re-run compares a checksum of its inputs with the last
load and skips it when nothing changed, so a second ``sdi up`` is quick and adds nothing.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
import yaml
from sqlalchemy import Engine, select

from layers import forest_sample
from layers.catalog import Layer, load_catalog
from layers.loader import load_frame
from layers.pilot_sites import resolve_pilot_sites
from layers.quality import ValidationReport
from sdi.models import LoadRecord
from sdi.settings import Settings

logger = logging.getLogger(__name__)

COMMUNES = "admin/langson_communes_2025.geojson"
PROVINCE = "admin/langson_province_2025_dissolved.geojson"
BORDER = "admin/vn_china_border_langson_derived.geojson"


def _admin_units(data: Path, settings: Settings) -> gpd.GeoDataFrame:
    communes = gpd.read_file(data / COMMUNES)
    communes = communes.assign(level="commune").rename(columns={"fullName": "full_name"})
    province = gpd.read_file(data / PROVINCE)
    outline = gpd.GeoDataFrame(
        {"code": ["20"], "level": ["province"], "name": ["Lạng Sơn"], "full_name": ["Tỉnh Lạng Sơn"],
         "nameEn": ["Lang Son"], "fullNameEn": ["Lang Son Province"], "unit_type": ["Tỉnh"],
         "province_code": ["20"], "merged_from_pre2025": [None]},
        geometry=[shapely.union_all(province.geometry.values)], crs=province.crs,
    )
    return pd.concat([outline, communes], ignore_index=True)


def _problems(data: Path, settings: Settings) -> pd.DataFrame:
    return pd.DataFrame(yaml.safe_load((data / "seed/problems.yaml").read_text(encoding="utf-8")))


def _border_line(data: Path, settings: Settings) -> gpd.GeoDataFrame:
    line = gpd.read_file(data / BORDER)
    return gpd.GeoDataFrame(
        {"code": ["vn_cn_lang_son"],
         "name_vi": ["Biên giới Việt Nam – Trung Quốc, đoạn tỉnh Lạng Sơn"],
         "name_en": ["Viet Nam – China border, Lạng Sơn section"]},
        geometry=[shapely.union_all(line.geometry.values)], crs=line.crs,
    )


def _border_belt(data: Path, settings: Settings) -> gpd.GeoDataFrame:
    """Illustrative border belt: the land within 1,000 m of the border, split by commune.

    Decree 34/2014/NĐ-CP sets the belt at no more than 1,000 m from the border line; the
    approved belt boundaries are not public, so this is a geometric stand-in, labelled as such.
    """
    width = 1000.0
    line = gpd.read_file(data / BORDER).to_crs(9215)
    communes = gpd.read_file(data / COMMUNES).to_crs(9215)
    belt = shapely.union_all(line.geometry.values).buffer(width)
    parts = communes.assign(geometry=communes.geometry.intersection(belt))
    parts = parts[~parts.geometry.is_empty & (parts.geometry.area > 10_000)]
    return gpd.GeoDataFrame(
        {"code": "vdbg_" + parts["code"], "commune_code": parts["code"],
         "name_vi": "Vành đai biên giới – " + parts["fullName"],
         "name_en": "Border belt – " + parts["fullNameEn"].fillna(parts["fullName"]),
         "width_m": width,
         "basis": "Nghị định 34/2014/NĐ-CP; minh hoạ: vùng đệm 1.000 m của đường biên giới dẫn xuất "
                  "/ illustrative 1,000 m buffer of the derived border line"},
        geometry=parts.geometry.values, crs=parts.crs,
    ).to_crs(4326)


def _transport(data: Path, settings: Settings) -> gpd.GeoDataFrame:
    return gpd.read_file(data / "transport/langson_roads_railways_national.geojson")


def _rivers(data: Path, settings: Settings) -> gpd.GeoDataFrame:
    # The extract covers a box around the province; keep the parts inside it.
    rivers = gpd.read_file(data / "hydro/rivers_wdbii_gshhg_langson_region.geojson")
    province = shapely.union_all(gpd.read_file(data / PROVINCE).geometry.values)
    rivers["geometry"] = rivers.geometry.intersection(province)
    rivers = rivers[~rivers.geometry.is_empty].reset_index(drop=True)
    return rivers.assign(gid=rivers.index + 1)


def _poi(data: Path, settings: Settings) -> gpd.GeoDataFrame:
    return gpd.read_file(data / "poi/langson_osm_poi_hotosm.geojson")


def _points_from_yaml(name: str) -> Callable[[Path, Settings], gpd.GeoDataFrame]:
    def build(data: Path, settings: Settings) -> gpd.GeoDataFrame:
        rows = yaml.safe_load((data / "seed" / name).read_text(encoding="utf-8"))
        frame = pd.DataFrame(rows)
        geometry = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"), crs="EPSG:4326")
        return gpd.GeoDataFrame(frame, geometry=geometry)

    return build


def _pilot_sites(data: Path, settings: Settings) -> gpd.GeoDataFrame:
    return resolve_pilot_sites(data)


def _forest_plots(data: Path, settings: Settings) -> gpd.GeoDataFrame:
    return forest_sample.generate_forest_plots(
        **forest_sample.load_inputs(data), target=settings.forest_sample_target,
        seed=settings.forest_sample_seed,
    )


#: layer id → (input files, builder). Order matters: problems before pilot sites.
BUNDLED: dict[str, tuple[list[str], Callable[[Path, Settings], pd.DataFrame]]] = {
    "admin_units": ([COMMUNES, PROVINCE], _admin_units),
    "problems": (["seed/problems.yaml"], _problems),
    "border_line": ([BORDER], _border_line),
    "border_belt": ([BORDER, COMMUNES], _border_belt),
    "transport_network": (["transport/langson_roads_railways_national.geojson"], _transport),
    "rivers": (["hydro/rivers_wdbii_gshhg_langson_region.geojson", PROVINCE], _rivers),
    "poi_osm": (["poi/langson_osm_poi_hotosm.geojson"], _poi),
    "border_gates": (["seed/border_gates.yaml"], _points_from_yaml("border_gates.yaml")),
    "industrial_parks": (["seed/industrial_parks.yaml"], _points_from_yaml("industrial_parks.yaml")),
    "pilot_sites": (["seed/pilot_sites.yaml", "seed/border_gates.yaml", "seed/industrial_parks.yaml",
                     "poi/langson_osm_poi_hotosm.geojson", COMMUNES], _pilot_sites),
    "forest_plots": ([COMMUNES, BORDER, "transport/langson_roads_railways_national.geojson",
                      "hydro/rivers_wdbii_gshhg_langson_region.geojson",
                      "poi/langson_osm_poi_hotosm.geojson", "poi/langson_key_places_wikipedia.geojson"],
                     _forest_plots),
}


def checksum(layer_id: str, settings: Settings) -> str:
    """A digest of a bundled dataset's inputs and of the code that builds it."""
    files, builder = BUNDLED[layer_id]
    digest = hashlib.sha256(inspect.getsource(builder).encode())
    if layer_id == "forest_plots":
        digest.update(inspect.getsource(forest_sample).encode())
        digest.update(f"{settings.forest_sample_target}:{settings.forest_sample_seed}".encode())
    for name in files:
        digest.update((settings.data_dir / name).read_bytes())
    return digest.hexdigest()


def seed_bundled(engine: Engine, settings: Settings, *, only: list[str] | None = None,
                 force: bool = False) -> dict[str, ValidationReport | None]:
    """Load every bundled dataset that changed since its last load.

    Returns:
        layer id → the load report, or None when the dataset was already up to date.
    """
    catalog = load_catalog(engine)
    results: dict[str, ValidationReport | None] = {}
    for layer_id in only or list(BUNDLED):
        layer: Layer = catalog[layer_id]
        digest = checksum(layer_id, settings)
        if not force and _already_loaded(engine, layer_id, digest):
            logger.info("%s: bundled data unchanged, skipped", layer_id)
            results[layer_id] = None
            continue
        frame = BUNDLED[layer_id][1](settings.data_dir, settings)
        report = load_frame(frame, layer, engine=engine, settings=settings,
                            source=f"bundled:{layer_id}", if_exists="upsert", checksum=digest)
        results[layer_id] = report
    return results


def _already_loaded(engine: Engine, layer_id: str, digest: str) -> bool:
    """Was this exact bundled dataset loaded before? Only bundled loads count: edits made since
    (a user's load, a ranger's change through the API) must not make ``sdi up`` reload the
    bundled data over them."""
    with engine.connect() as conn:
        last = conn.execute(
            select(LoadRecord.checksum)
            .where(LoadRecord.layer_id == layer_id, LoadRecord.source == f"bundled:{layer_id}")
            .order_by(LoadRecord.id.desc()).limit(1)
        ).scalar()
    return last == digest
