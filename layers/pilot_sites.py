"""Resolve the pilot-site seed (``data/seed/pilot_sites.yaml``) into geometries.

A site's position is given by reference to real data wherever it exists: a border gate,
an industrial park, an OpenStreetMap point, the union of 2025 communes, or a circle
around a cited point; raw coordinates only with a cited source.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml

from sdi.crs import STORAGE, reproject
from sdi.errors import InvalidInputError

TM3 = "EPSG:9215"


def resolve_pilot_sites(data: Path) -> gpd.GeoDataFrame:
    """The pilot sites with their geometry resolved (points, or MultiPolygon areas)."""
    sites = yaml.safe_load((data / "seed/pilot_sites.yaml").read_text(encoding="utf-8"))
    refs = _references(data)
    geoms = [_resolve(site["code"], site.pop("geometry"), refs) for site in sites]
    return gpd.GeoDataFrame(pd.DataFrame(sites), geometry=geoms, crs="EPSG:4326")


def _references(data: Path) -> dict[str, dict]:
    def points(name: str) -> dict:
        rows = yaml.safe_load((data / "seed" / name).read_text(encoding="utf-8"))
        return {r["code"]: shapely.Point(r["lon"], r["lat"]) for r in rows}

    poi = gpd.read_file(data / "poi/langson_osm_poi_hotosm.geojson")
    communes = gpd.read_file(data / "admin/langson_communes_2025.geojson")
    return {
        "gate": points("border_gates.yaml"),
        "park": points("industrial_parks.yaml"),
        "osm_poi": dict(zip(poi.osm_id.astype(int), poi.geometry, strict=True)),
        "communes": dict(zip(communes.code, communes.geometry, strict=True)),
    }


def _resolve(code: str, spec: dict, refs: dict[str, dict]) -> shapely.Geometry:
    if len(spec) != 1:
        raise InvalidInputError(f"pilot site {code}: give exactly one geometry key, got {sorted(spec)}")
    (kind, value), = spec.items()
    try:
        if kind in ("gate", "park", "osm_poi"):
            return refs[kind][int(value) if kind == "osm_poi" else value]
        if kind == "point":
            return shapely.Point(*value)
        if kind == "communes":
            return _multi(shapely.union_all([refs["communes"][c] for c in value]))
        if kind == "buffer":
            centre = reproject(np.array([shapely.Point(*value["point"])]), STORAGE, _tm3())
            circle = shapely.buffer(centre, float(value["radius_m"]), quad_segs=16)
            return _multi(reproject(circle, _tm3(), STORAGE)[0])
    except KeyError as exc:
        raise InvalidInputError(f"pilot site {code}: unknown {kind} reference {exc}") from exc
    raise InvalidInputError(f"pilot site {code}: unknown geometry kind '{kind}'")


def _tm3():
    from pyproj import CRS

    return CRS.from_user_input(TM3)


def _multi(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.MultiPolygon([geom]) if isinstance(geom, shapely.Polygon) else geom
