"""Where a raster item's COG is: the database only, never the caller.

A request names an item by id; the id is looked up in ``raster_items`` (``ready`` rows of a
collection the caller may see) and the row's ``href`` — a path relative to the store root
``Settings.raster_store`` — gives the file. No endpoint takes a URL or a path from the caller
(TiTiler's ``?url=`` would let anyone read any file the server can: it is refused), and even a
stored ``href`` that would leave the store root (``../``, an absolute path) is refused.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from cachetools import TTLCache
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from rasters.environment import is_s3
from sdi.access import Principal, visible
from sdi.models import RasterCollection, RasterItem
from sdi.settings import Settings

#: Item and collection ids the routes accept (anything else is a 400 before any look-up); the
#: look-up is by exact id, so this is hygiene, not the protection.
ITEM_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:~-]{0,126}$"
COLLECTION_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$"


class OutsideStoreError(Exception):
    """A stored ``href`` points outside the store root: a broken row, never served."""


@dataclass(frozen=True)
class CollectionRef:
    """What the tiler needs of a raster collection (it quacks like a layer for ``visible``)."""

    id: str
    title_vi: str
    title_en: str
    owner: str
    access_level: str
    kind: str
    #: the agencies the owner shared it with, {agency: "read" | "edit"} (kept out of equality and hashing)
    grants: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class RasterRef:
    """One ready raster item the caller may see, with the location of its COG."""

    id: str
    collection: CollectionRef
    datetime: dt.datetime
    href: str  # relative to the store root, as stored
    location: str  # absolute local path, or s3://bucket/key
    band_count: int | None = None
    epsg: int | None = None
    gsd_m: float | None = None
    platform: str | None = None
    stac: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    bbox: tuple[float, float, float, float] | None = None  # lon/lat, from the footprint

    @property
    def restricted(self) -> bool:
        return self.collection.access_level == "restricted"

    @property
    def local(self) -> bool:
        return not self.location.startswith("s3://")


def resolve(settings: Settings, href: str) -> str:
    """The location of a stored ``href``: inside the store root, or ``OutsideStoreError``."""
    rel = PurePosixPath(href)
    if not href or rel.is_absolute() or ".." in rel.parts or "\\" in href or "\x00" in href:
        raise OutsideStoreError(href)
    if is_s3(settings):
        parsed = urlparse(settings.raster_store)
        prefix = parsed.path.strip("/")
        key = f"{prefix}/{rel}" if prefix else str(rel)
        return f"s3://{parsed.netloc}/{key}"
    root = Path(settings.raster_store).resolve()
    path = (root / rel).resolve()  # symlinks followed: the real file must still be in the store
    if not path.is_relative_to(root):
        raise OutsideStoreError(href)
    return str(path)


def _collection(row: RasterCollection) -> CollectionRef:
    return CollectionRef(id=row.id, title_vi=row.title_vi, title_en=row.title_en, owner=row.owner,
                         access_level=row.access_level, kind=row.kind, grants=dict(row.grants or {}))


_BBOX = RasterItem.footprint.ST_Envelope().ST_AsText()  # footprint bounds, one round trip


def _bbox(wkt: str | None) -> tuple[float, float, float, float] | None:
    if not wkt:
        return None
    from shapely import wkt as shapely_wkt

    return tuple(shapely_wkt.loads(wkt).bounds)


def _ref(settings: Settings, item: RasterItem, coll: RasterCollection, bbox_wkt: str | None) -> RasterRef:
    return RasterRef(id=item.id, collection=_collection(coll), datetime=item.datetime, href=item.href,
                     location=resolve(settings, item.href), band_count=item.band_count, epsg=item.epsg,
                     gsd_m=item.gsd_m, platform=item.platform, stac=item.stac or {}, bbox=_bbox(bbox_wkt))


#: Ready items are kept this long between requests (a map asks for 20 tiles of one item at once);
#: an item withdrawn or moved to another collection is honoured within this time. Items not found
#: are not kept: a new item is served at once.
ITEM_TTL_S = 1.0
_items: TTLCache[tuple[str, str, str], RasterRef] = TTLCache(maxsize=1024, ttl=ITEM_TTL_S)
_items_lock = threading.Lock()
_generation = 0  # bumped by ``forget_items``: a look-up that began before is not kept


def forget_items() -> None:
    """Forget every kept item (another process changed raster items or collections: ``sdi.notify``)."""
    global _generation
    with _items_lock:
        _generation += 1
        _items.clear()


def _load_item(engine: Engine, settings: Settings, item_id: str) -> RasterRef | None:
    stmt = (select(RasterItem, RasterCollection, _BBOX)
            .join(RasterCollection, RasterCollection.id == RasterItem.collection_id)
            .where(RasterItem.id == item_id, RasterItem.status == "ready"))
    with Session(engine) as session:
        row = session.execute(stmt).first()
    return None if row is None else _ref(settings, row[0], row[1], row[2])


def cached_item(engine: Engine, settings: Settings, item_id: str) -> RasterRef | None:
    """The item if it was read within ``ITEM_TTL_S`` (no database round trip; no access check)."""
    with _items_lock:
        return _items.get((engine.url.render_as_string(), settings.raster_store, item_id))


def find_item(engine: Engine, settings: Settings, item_id: str, who: Principal) -> RasterRef | None:
    """The ready item ``item_id`` if ``who`` may see its collection; None otherwise (unknown,
    pending, or hidden: the caller cannot tell which). The access rule is applied on every call."""
    ref = cached_item(engine, settings, item_id)
    if ref is None:
        generation = _generation
        ref = _load_item(engine, settings, item_id)
        if ref is not None:
            with _items_lock:
                if generation == _generation:
                    _items[(engine.url.render_as_string(), settings.raster_store, item_id)] = ref
    if ref is None or not visible(ref.collection, who):
        return None
    return ref


def find_collection(engine: Engine, collection_id: str, who: Principal) -> CollectionRef | None:
    """The collection if ``who`` may see it."""
    with Session(engine) as session:
        row = session.get(RasterCollection, collection_id)
    if row is None or not visible(row, who):
        return None
    return _collection(row)


def items_of(engine: Engine, settings: Settings, collection: CollectionRef,
             start: dt.datetime | None, end: dt.datetime | None) -> list[RasterRef]:
    """The ready items of a collection between two instants (either may be open), newest first."""
    stmt = (select(RasterItem, RasterCollection, _BBOX)
            .join(RasterCollection, RasterCollection.id == RasterItem.collection_id)
            .where(RasterItem.collection_id == collection.id, RasterItem.status == "ready"))
    if start is not None:
        stmt = stmt.where(RasterItem.datetime >= start)
    if end is not None:
        stmt = stmt.where(RasterItem.datetime <= end)
    stmt = stmt.order_by(RasterItem.datetime.desc(), RasterItem.id)
    with Session(engine) as session:
        return [_ref(settings, item, coll, bbox) for item, coll, bbox in session.execute(stmt)]


def visible_items(engine: Engine, settings: Settings, who: Principal) -> list[RasterRef]:
    """Every ready item ``who`` may see (the QGIS project), by collection then newest first."""
    stmt = (select(RasterItem, RasterCollection, _BBOX)
            .join(RasterCollection, RasterCollection.id == RasterItem.collection_id)
            .where(RasterItem.status == "ready")
            .order_by(RasterCollection.id, RasterItem.datetime.desc(), RasterItem.id))
    with Session(engine) as session:
        rows = session.execute(stmt).all()
    out = []
    for item, coll, bbox in rows:
        if visible(coll, who):
            try:
                out.append(_ref(settings, item, coll, bbox))
            except OutsideStoreError:
                continue
    return out
