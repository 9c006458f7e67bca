"""Reads of the raster catalogue for the STAC API: visible collections, extents, item search.

Only ``ready`` items are ever returned. Paging is by keyset (newest first, then id): the token
is the last item's (datetime, id), so pages stay stable while items are added.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field

import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.orm import Session

from sdi.access import Principal, visible
from sdi.errors import InvalidInputError
from sdi.models import AccessLogEntry, RasterCollection, RasterItem

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000


@dataclass
class Search:
    """Item-search parameters, already checked (see ``api.stac``)."""

    collections: list[str]  # the ones to search: visible to the caller
    ids: list[str] | None = None
    geometry: shapely.Geometry | None = None  # bbox or intersects, EPSG:4326
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    limit: int = DEFAULT_LIMIT
    token: str | None = None


@dataclass
class Page:
    items: list[dict] = field(default_factory=list)
    matched: int = 0
    next_token: str | None = None


def visible_collections(engine: Engine, who: Principal) -> dict[str, RasterCollection]:
    """The raster collections ``who`` may see, by id (the same rule as vector layers)."""
    with Session(engine, expire_on_commit=False) as session:
        rows = session.scalars(select(RasterCollection).order_by(RasterCollection.id)).all()
    return {row.id: row for row in rows if visible(row, who)}


def log_reads(engine: Engine, who: Principal, collections: list[RasterCollection], method: str, path: str) -> None:
    """Write a read of each *restricted* collection among ``collections`` to the access log (the rule of
    restricted layers), before the answer leaves."""
    entries = [AccessLogEntry(key_id=who.key_id, key_name=who.name, layer_id=row.id[:63], action="read",
                              method=method, path=path[:2000], status=200)
               for row in {c.id: c for c in collections}.values() if row.access_level == "restricted"]
    if entries:
        with Session(engine) as session:
            session.add_all(entries)
            session.commit()


def extents(engine: Engine, ids: list[str]) -> dict[str, tuple[list[float] | None, dt.datetime, dt.datetime, int]]:
    """Per collection: bbox of the ready footprints, first and last datetime, item count."""
    stmt = (select(RasterItem.collection_id, func.ST_XMin(func.ST_Extent(RasterItem.footprint)),
                   func.ST_YMin(func.ST_Extent(RasterItem.footprint)),
                   func.ST_XMax(func.ST_Extent(RasterItem.footprint)),
                   func.ST_YMax(func.ST_Extent(RasterItem.footprint)),
                   func.min(RasterItem.datetime), func.max(RasterItem.datetime), func.count())
            .where(RasterItem.status == "ready", RasterItem.collection_id.in_(ids))
            .group_by(RasterItem.collection_id))
    with Session(engine) as session:
        rows = session.execute(stmt).all()
    return {r[0]: ([r[1], r[2], r[3], r[4]] if r[1] is not None else None, r[5], r[6], r[7]) for r in rows}


def encode_token(when: dt.datetime, item_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([when.isoformat(), item_id]).encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[dt.datetime, str]:
    try:
        when, item_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return dt.datetime.fromisoformat(when), str(item_id)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"Mã trang không hợp lệ / invalid paging token {token[:40]!r}") from exc


def search(engine: Engine, params: Search) -> Page:
    """One page of ready items matching ``params``, newest first."""
    where = [RasterItem.status == "ready", RasterItem.collection_id.in_(params.collections)]
    if params.ids is not None:
        where.append(RasterItem.id.in_(params.ids))
    if params.geometry is not None:
        where.append(func.ST_Intersects(RasterItem.footprint, from_shape(params.geometry, srid=4326)))
    if params.start is not None:
        where.append(RasterItem.datetime >= params.start)
    if params.end is not None:
        where.append(RasterItem.datetime <= params.end)
    page = Page()
    with Session(engine) as session:
        page.matched = session.scalar(select(func.count()).select_from(RasterItem).where(*where)) or 0
        if params.token:
            when, last_id = decode_token(params.token)
            where.append(or_(RasterItem.datetime < when, and_(RasterItem.datetime == when, RasterItem.id > last_id)))
        rows = session.execute(
            select(RasterItem.stac, RasterItem.datetime, RasterItem.id, RasterItem.collection_id).where(*where)
            .order_by(RasterItem.datetime.desc(), RasterItem.id).limit(params.limit + 1)
        ).all()
    # the row is the truth for id and collection, whatever the stored JSON holds
    page.items = [{**r[0], "id": r[2], "collection": r[3]} for r in rows[: params.limit]]
    if len(rows) > params.limit:
        last = rows[params.limit - 1]
        page.next_token = encode_token(last[1], last[2])
    return page
