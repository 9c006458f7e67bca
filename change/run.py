"""One detection run on two registered raster items: find them (access rule), detect, attach plot and
commune, write ``change_events`` through the validated all-or-nothing loader."""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import Executor
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Engine, text

from change.detect import Params, Result, Source, detect
from change.errors import ChangeInputError
from sdi.access import Principal
from sdi.errors import NotFoundError
from sdi.settings import Settings

logger = logging.getLogger(__name__)

LAYER_ID = "change_events"
#: the operator at the command line: the database is theirs already
OPERATOR = Principal(name="sdi change (command line)", agency="kiemlam", role="admin")


@dataclass
class Run:
    result: Result
    events: gpd.GeoDataFrame  # EPSG:4326, the columns of change_events (area_ha as computed here)
    written: int = 0
    inserted: int = 0
    updated: int = 0


def source_for(engine: Engine, settings: Settings, item_id: str, who: Principal) -> Source:
    """The item as a detection input; an unknown item and one the caller may not see look the same."""
    from tiles.bands import roles
    from tiles.store import OutsideStoreError, find_item, gdal_env

    try:
        ref = find_item(engine, settings, item_id, who)
    except OutsideStoreError:
        ref = None
    if ref is None:
        raise NotFoundError(f"Không có ảnh / no raster item {item_id!r} (unknown, not ready, or not visible to "
                            f"{who.label})")
    env = gdal_env(settings)
    src = Source(id=ref.id, location=ref.location, roles=roles(ref, env), datetime=ref.datetime,
                 env=tuple(sorted(env.items())), bbox=ref.bbox)
    return src


def check_pair(before: Source, after: Source) -> None:
    if before.id == after.id:
        raise ChangeInputError(f"Hai lần chụp là cùng một ảnh / before and after are the same item ({before.id})")
    if before.datetime and after.datetime and before.datetime > after.datetime:  # type: ignore[operator]
        raise ChangeInputError(
            f"Ảnh 'trước' chụp sau ảnh 'sau' / the before item {before.id} ({before.datetime:%Y-%m-%d}) is later "
            f"than the after item {after.id} ({after.datetime:%Y-%m-%d}): swap --before and --after")
    bb, ab = before.bbox, after.bbox
    if bb and ab and not shapely.box(*bb).intersects(shapely.box(*ab)):
        raise ChangeInputError(
            f"Hai ảnh không chồng phủ nhau / the rasters do not overlap: {before.id} {tuple(round(v, 4) for v in bb)}"
            f" and {after.id} {tuple(round(v, 4) for v in ab)}")


def _event_id(before: str, after: str, kind: str, centroid: shapely.Point) -> str:
    key = f"{before}|{after}|{kind}|{round(centroid.x, 6)}|{round(centroid.y, 6)}"
    return "chg_" + hashlib.sha256(key.encode()).hexdigest()[:16]


_PLOT_SQL = text(
    "SELECT plot_code FROM forest_plots WHERE ST_Intersects(geom, ST_GeomFromWKB(:g, 4326)) "
    "ORDER BY ST_Area(ST_Intersection(geom, ST_GeomFromWKB(:g, 4326))) DESC LIMIT 1")
_COMMUNE_SQL = text(
    "SELECT code FROM admin_units WHERE level = 'commune' AND ST_Intersects(geom, ST_GeomFromWKB(:g, 4326)) "
    "ORDER BY ST_Area(ST_Intersection(geom, ST_GeomFromWKB(:g, 4326))) DESC LIMIT 1")


def events_frame(result: Result, engine: Engine | None = None) -> gpd.GeoDataFrame:
    """The events of ``result`` as rows of ``change_events`` (lon/lat), with plot and commune."""
    geoms = gpd.GeoSeries([shapely.MultiPolygon([e.geometry]) if e.geometry.geom_type == "Polygon" else e.geometry
                           for e in result.events], crs=result.grid.crs).to_crs(4326)
    rows = []
    for event, geom in zip(result.events, geoms, strict=True):
        rows.append({
            "event_id": _event_id(result.before.id, result.after.id, event.kind, geom.centroid),
            "change_type": event.kind, "before_item": result.before.id, "after_item": result.after.id,
            "before_date": result.before.datetime, "after_date": result.after.datetime,
            "magnitude": round(event.magnitude, 4), "confidence": round(event.confidence, 3),
            "vegetation_index": result.index, "area_ha": round(event.area_ha, 4),
            "plot_code": None, "commune_code": None,
        })
    frame = gpd.GeoDataFrame(pd.DataFrame(rows, columns=[
        "event_id", "change_type", "before_item", "after_item", "before_date", "after_date", "magnitude",
        "confidence", "vegetation_index", "area_ha", "plot_code", "commune_code"]), geometry=list(geoms), crs=4326)
    if engine is not None and len(frame):
        with engine.connect() as conn:
            for i, geom in enumerate(frame.geometry):
                wkb = shapely.to_wkb(geom)
                frame.loc[i, "plot_code"] = conn.execute(_PLOT_SQL, {"g": wkb}).scalar()
                frame.loc[i, "commune_code"] = conn.execute(_COMMUNE_SQL, {"g": wkb}).scalar()
    return frame


def run(engine: Engine, settings: Settings, before_id: str, after_id: str, params: Params | None = None, *,
        who: Principal = OPERATOR, write: bool = True, executor: Executor | None = None,
        progress=None) -> Run:  # noqa: ANN001
    """Detect change between two items and (unless ``write`` is False) store the events."""
    from layers.catalog import get_layer, load_catalog
    from layers.loader import load_frame

    before = source_for(engine, settings, before_id, who)
    after = source_for(engine, settings, after_id, who)
    check_pair(before, after)
    result = detect(before, after, params, executor=executor, progress=progress)
    frame = events_frame(result, engine)
    out = Run(result=result, events=frame)
    if write and len(frame):
        layer = get_layer(load_catalog(engine), LAYER_ID)
        report = load_frame(frame.drop(columns=["area_ha"]), layer, engine=engine, settings=settings,
                            source=f"sdi change detect {before.id} → {after.id}")
        out.written, out.inserted, out.updated = len(frame), report.counts.inserted, report.counts.updated
    return out
