"""One detection run on two registered raster items: find them (access rule), detect, attach plot and
commune, write ``change_events`` through the validated all-or-nothing loader.

A re-run of the same before/after pair replaces the earlier run's events in the same transaction:
events no longer found that are still ``new`` are deleted; those a ranger decided on (``verified``,
``false_alarm``) are never deleted: their decision (status, note) moves to the new event at the
same place (same kind, overlapping by at least half of the smaller of the two), or, with no such
event, they stay as they are and are reported. Events of other pairs are not touched.

Windows run on the local cores (threads), or on a Dask cluster (``--scheduler`` or
``SDI_DASK_SCHEDULER``): the workers are sent the rasters' locations and the windows, and read the
pixels themselves (the same paths, or the same S3 store, must be readable from every worker).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, bindparam, text

from change.detect import Params, Result, Source, detect
from change.errors import ChangeInputError, DaskUnavailableError
from layers.catalog import get_layer, load_catalog
from layers.loader import load_frame
from rasters.bands import roles
from rasters.environment import gdal_env
from rasters.items import OutsideStoreError, find_item
from sdi import metrics
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
    #: earlier events of the pair no longer found, still 'new' and without a note: deleted
    removed: int = 0
    #: earlier events a ranger decided on, no longer found: their decision moved to the new event at the same place
    carried: int = 0
    #: earlier events a ranger decided on, no longer found and with no new event at the same place: kept as they are
    kept: list[str] = field(default_factory=list)


def source_for(engine: Engine, settings: Settings, item_id: str, who: Principal) -> Source:
    """The item as a detection input; an unknown item and one the caller may not see look the same."""
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


#: decided (or annotated) events of the pair that the new run did not find again, and the new ('new')
#: events they overlap
_MATCH_SQL = text("""
    SELECT o.event_id AS old_id, n.event_id AS new_id, o.status, o.note
    FROM change_events o JOIN change_events n
      ON n.before_item = o.before_item AND n.after_item = o.after_item AND n.change_type = o.change_type
     AND n.event_id = ANY(CAST(:ids AS text[])) AND n.status = 'new' AND ST_Intersects(n.geom, o.geom)
     AND ST_Area(ST_Intersection(n.geom, o.geom)) >= 0.5 * LEAST(ST_Area(n.geom), ST_Area(o.geom))
    WHERE o.before_item = :before AND o.after_item = :after AND (o.status <> 'new' OR COALESCE(o.note, '') <> '')
      AND NOT (o.event_id = ANY(CAST(:ids AS text[])))
    ORDER BY o.event_id, n.event_id""")
# a ranger's note counts as a decision too: an event still 'new' but annotated is kept
_REMOVE_NEW_SQL = text("DELETE FROM change_events WHERE before_item = :before AND after_item = :after "
                       "AND status = 'new' AND COALESCE(note, '') = '' "
                       "AND NOT (event_id = ANY(CAST(:ids AS text[])))")
_KEPT_SQL = text("SELECT event_id FROM change_events WHERE before_item = :before AND after_item = :after "
                 "AND (status <> 'new' OR COALESCE(note, '') <> '') "
                 "AND NOT (event_id = ANY(CAST(:ids AS text[]))) ORDER BY event_id")


def replace_stale(conn: Connection, before: str, after: str, ids: list[str], out: Run) -> None:
    """The earlier events of the pair that the new run (``ids``) did not find again (see the module
    docstring); counts in ``out``."""
    pair = {"before": before, "after": after, "ids": ids}
    matches = conn.execute(_MATCH_SQL, pair).all()
    decisions: dict[str, set[tuple[str, str | None]]] = {}
    for m in matches:
        decisions.setdefault(m.new_id, set()).add((m.status, m.note))
    # a new event takes over a decision when the earlier events at its place agree on one status
    agreed = {new: st for new, st in decisions.items() if len({status for status, _ in st}) == 1}
    for new_id, st in agreed.items():
        notes = sorted({note for _, note in st if note})
        conn.execute(text("UPDATE change_events SET status = :status, note = COALESCE(:note, note) "
                          "WHERE event_id = :id"),
                     {"status": next(iter(st))[0], "note": " | ".join(notes) or None, "id": new_id})
    carried = sorted({m.old_id for m in matches if m.new_id in agreed})
    if carried:
        conn.execute(text("DELETE FROM change_events WHERE event_id IN :ids").bindparams(
            bindparam("ids", expanding=True)), {"ids": carried})
    out.carried = len(carried)
    out.removed = conn.execute(_REMOVE_NEW_SQL, pair).rowcount
    out.kept = list(conn.execute(_KEPT_SQL, pair).scalars())


@contextmanager
def dask_executor(address: str) -> Iterator[tuple[Executor, int]]:
    """A ``concurrent.futures`` executor on the Dask cluster at ``address``, and its number of threads."""
    from distributed import Client

    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise DaskUnavailableError(f"Không kết nối được cụm Dask / cannot reach the Dask scheduler at {address}: "
                                   f"{exc}") from exc
    with client:
        threads = sum(client.nthreads().values())
        if not threads:
            raise DaskUnavailableError(f"Cụm Dask không có worker / the Dask cluster at {address} has no workers")
        yield client.get_executor(pure=False), threads


@metrics.timed_job("change")
def run(engine: Engine, settings: Settings, before_id: str, after_id: str, params: Params | None = None, *,
        who: Principal = OPERATOR, write: bool = True, executor: Executor | None = None,
        scheduler: str | None = None, progress=None) -> Run:
    """Detect change between two items and (unless ``write`` is False) store the events, replacing the
    earlier run of the pair. Windows go to ``executor``, else to the Dask cluster at ``scheduler`` (default
    ``settings.dask_scheduler``), else to local threads."""
    before = source_for(engine, settings, before_id, who)
    after = source_for(engine, settings, after_id, who)
    check_pair(before, after)
    address = scheduler or settings.dask_scheduler
    if executor is None and address:
        with dask_executor(address) as (cluster, threads):
            result = detect(before, after, replace(params or Params(), workers=threads), executor=cluster,
                            progress=progress)
    else:
        result = detect(before, after, params, executor=executor, progress=progress)
    frame = events_frame(result, engine)
    out = Run(result=result, events=frame)
    if not write:
        return out
    ids = list(frame.event_id)

    def stale(conn: Connection) -> None:
        replace_stale(conn, before.id, after.id, ids, out)

    if len(frame):
        layer = get_layer(load_catalog(engine), LAYER_ID)
        report = load_frame(frame.drop(columns=["area_ha"]), layer, engine=engine, settings=settings,
                            source=f"sdi change detect {before.id} → {after.id}", also=stale)
        out.written, out.inserted, out.updated = len(frame), report.counts.inserted, report.counts.updated
    else:  # nothing found this time: only the earlier run's events to replace
        with engine.begin() as conn:
            stale(conn)
    return out
