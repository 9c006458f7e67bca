"""A collection's ready items of a date range as one mosaic (``/rasters/collections/{id}/mosaic``).

``titiler.mosaic``'s ``MosaicTilerFactory`` serves it with a rio-tiler mosaic *backend*; the
only part written here is the backend's index: the items come from PostGIS (collection, status
``ready``, ``datetime`` in the range, newest first) and each tile reads the items whose
footprint box touches it. Pixel selection is rio-tiler's (``first`` by default: the newest
flight on top, older ones fill its gaps; ``highest``, ``mean``, ``count``, … on request).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

import attr
import morecantile
from fastapi import Depends, Path, Query, Request
from rasterio.crs import CRS
from rio_tiler.constants import WGS84_CRS
from rio_tiler.mosaic.backend import BaseBackend
from titiler.core.dependencies import BidxExprParams

from rasters import items as catalogue
from rasters.items import COLLECTION_ID_PATTERN, CollectionRef, RasterRef
from sdi.callers import caller
from sdi.database import translate_db_errors
from sdi.errors import InvalidInputError, NotFoundError
from tiles.params import Bidx, Expression, check_layer, gdal_env, is_image, preset_of
from tiles.reader import transform_bounds

#: At most this many items are mosaicked (the newest); a wider date range is a 400.
MAX_ITEMS = 100


@dataclass(frozen=True)
class MosaicSource:
    """What a mosaic request resolved to: the collection and its items, newest first."""

    collection: CollectionRef
    items: tuple[RasterRef, ...]
    start: dt.datetime | None
    end: dt.datetime | None

    def __str__(self) -> str:  # a WMTS layer's identifier
        return f"{self.collection.id}_mosaic"


def _instant(text: str, end: bool) -> dt.datetime | None:
    text = text.strip()
    if text in ("", ".."):
        return None
    try:
        if len(text) == 10:  # a day: the whole day
            day = dt.date.fromisoformat(text)
            value = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
        else:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(f"datetime không hợp lệ / invalid datetime {text!r}: use RFC 3339, a day "
                                "(2026-03-01) or an interval (2026-03-01/2026-03-31, ../2026-03-31)") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def parse_datetime(value: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``a/b``, ``../b``, ``a/..``, a day or an instant (STAC API ``datetime``)."""
    if not value:
        return None, None
    if "/" in value:
        first, _, second = value.partition("/")
        start, end = _instant(first, end=False), _instant(second, end=True)
        if start and end and start > end:
            raise InvalidInputError("datetime: đầu sau cuối / the start is after the end")
        return start, end
    if len(value.strip()) == 10:
        return _instant(value, end=False), _instant(value, end=True)
    instant = _instant(value, end=False)
    return instant, instant


Datetime = Annotated[str | None, Query(max_length=100, description=(
    "Ngày hoặc khoảng ngày / a day, an instant or an interval (2026-03-01/2026-03-31, ../2026-03-31); "
    "default: every date"))]


async def mosaic_source(request: Request, collection_id: Annotated[str, Path(pattern=COLLECTION_ID_PATTERN)],
                        datetime: Datetime = None) -> MosaicSource:
    """TiTiler's ``path_dependency`` for mosaics: the visible collection's ready items of the range."""
    who = await caller(request)
    start, end = parse_datetime(datetime)
    app = request.app.state
    with translate_db_errors():
        collection = await asyncio.to_thread(catalogue.find_collection, app.engine, collection_id, who)
        if collection is None:
            raise NotFoundError(f"Không có bộ ảnh / no raster collection {collection_id!r}")
        request.state.raster_collection = collection
        items = await asyncio.to_thread(catalogue.items_of, app.engine, app.settings, collection, start, end)
    if not items:
        raise NotFoundError(f"Bộ ảnh {collection_id!r} không có ảnh trong khoảng ngày này / no ready item in "
                            f"{collection_id!r} for datetime={datetime or '..'}")
    if len(items) > MAX_ITEMS:
        raise InvalidInputError(f"Quá nhiều ảnh / {len(items)} items in that range; narrow datetime to at most "
                                f"{MAX_ITEMS}")
    return MosaicSource(collection, tuple(items), start, end)


def mosaic_layer(request: Request, source: Annotated[MosaicSource, Depends(mosaic_source)], bidx: Bidx = None,
                 expression: Expression = None) -> BidxExprParams:
    """``layer_dependency`` of the mosaic: bands checked against every item."""
    return check_layer(list(source.items), gdal_env(request), preset_of(request), bidx, expression,
                       is_image(request))


def _touches(box: tuple[float, float, float, float] | None, other: tuple[float, float, float, float]) -> bool:
    if box is None:  # no footprint recorded: it may cover anything
        return True
    return box[0] <= other[2] and other[0] <= box[2] and box[1] <= other[3] and other[1] <= box[3]


@attr.s
class DateMosaicBackend(BaseBackend):
    """rio-tiler mosaic backend over a ``MosaicSource`` (``input``; items newest first)."""

    input: MosaicSource

    def __attrs_post_init__(self) -> None:
        boxes = [ref.bbox for ref in self.input.items if ref.bbox is not None]
        self.crs = WGS84_CRS
        if boxes:
            self.bounds = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                           max(b[2] for b in boxes), max(b[3] for b in boxes))
        else:
            self.bounds = (-180.0, -90.0, 180.0, 90.0)
        # zooms of the newest item: its header is one small read
        with self.reader(self.input.items[0].location, tms=self.tms, **self.reader_options) as src:
            self.minzoom, self.maxzoom = src.minzoom, src.maxzoom
        if not boxes:
            with self.reader(self.input.items[0].location, **self.reader_options) as src:
                self.bounds = src.get_geographic_bounds(WGS84_CRS)

    def asset_name(self, asset: Any) -> str:
        return next((ref.id for ref in self.input.items if ref.location == asset), "?")

    def _assets(self, box: tuple[float, float, float, float]) -> list[str]:
        return [ref.location for ref in self.input.items if _touches(ref.bbox, box)]

    def assets_for_tile(self, x: int, y: int, z: int, **kwargs: Any) -> list[str]:
        xy = self.tms.xy_bounds(morecantile.Tile(x, y, z))
        box = transform_bounds(self.tms.rasterio_crs, WGS84_CRS, *xy, densify_pts=21)
        return self._assets(box)

    def assets_for_point(self, lng: float, lat: float, coord_crs: CRS | None = None, **kwargs: Any) -> list[str]:
        if coord_crs is not None and coord_crs != WGS84_CRS:
            lng, lat, _, _ = transform_bounds(coord_crs, WGS84_CRS, lng, lat, lng, lat)
        return self._assets((lng, lat, lng, lat))

    def assets_for_bbox(self, xmin: float, ymin: float, xmax: float, ymax: float, coord_crs: CRS | None = None,
                        **kwargs: Any) -> list[str]:
        box = (xmin, ymin, xmax, ymax)
        if coord_crs is not None and coord_crs != WGS84_CRS:
            box = transform_bounds(coord_crs, WGS84_CRS, *box, densify_pts=21)
        return self._assets(box)
