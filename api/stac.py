"""STAC API at ``/stac``: core, collections, OGC API – Features and item search, plus uploads.

Hand-written over ``rasters.catalog`` rather than stac-fastapi: the items are already STAC
JSON in ``raster_items.stac``, the access rule must filter every list, and stac-fastapi-pgstac
would bring its own schema (pgstac) beside ours. Only ``ready`` items are served. A collection
the caller may not see is absent from every list and search, and its paths answer 404.

``POST /stac/collections/{id}/items`` takes a GeoTIFF (multipart ``file`` field, or the raw
body) from staff of the owning agency, streams it to the store's tmp area under
``SDI_MAX_RASTER_BYTES`` and ingests it in a worker thread (one at a time) before answering:
**201** with the new item, **200** with the existing one when the same file was already there.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import math
from functools import partial
from typing import Any

import anyio
import numpy as np
import shapely
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from rasters import catalog
from rasters.store import open_store
from sdi import uploads as streaming
from sdi.access import Principal, can_edit
from sdi.agencies import read_agencies
from sdi.callers import caller
from sdi.crs import LANG_SON_AOI
from sdi.errors import ForbiddenError, InvalidCredentialsError, InvalidInputError, NotFoundError
from sdi.models import RasterCollection
from uav_ingest.ingest import ingest_file, parse_when

router = APIRouter(prefix="/stac", tags=["STAC"])

STAC_VERSION = "1.1.0"
GEOJSON = "application/geo+json"
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
PROVINCE_BBOX = [LANG_SON_AOI.west_lon_degree, LANG_SON_AOI.south_lat_degree,
                 LANG_SON_AOI.east_lon_degree, LANG_SON_AOI.north_lat_degree]


# --- helpers ---------------------------------------------------------------------------------

def stac_base(request: Request) -> str:
    settings = request.app.state.settings
    return settings.link_base(str(request.base_url)) + "/stac"


def _json(body: dict, media_type: str = "application/json", status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=media_type, headers=headers or None)


def _link(rel: str, href: str, media_type: str = "application/json", **extra: Any) -> dict:
    return {"rel": rel, "href": href, "type": media_type, **extra}


async def _visible(request: Request, who: Principal) -> dict[str, RasterCollection]:
    return await asyncio.to_thread(catalog.visible_collections, request.app.state.engine, who)


async def _collection(request: Request, who: Principal, collection_id: str) -> RasterCollection:
    found = (await _visible(request, who)).get(collection_id)
    if found is None:
        raise NotFoundError(f"Không có bộ sưu tập / no collection {collection_id!r}")
    return found


async def _logged(request: Request, who: Principal, rows: list[RasterCollection]) -> None:
    qs = request.url.query
    await asyncio.to_thread(catalog.log_reads, request.app.state.engine, who, rows, request.method,
                            request.url.path + (f"?{qs}" if qs else ""))


def _absolute(href: str, root: str) -> str:
    return root + href if href.startswith("/") else href


def item_out(stac: dict, base: str) -> dict:
    """A stored item with the server's address in its hrefs and its navigation links."""
    item = copy.deepcopy(stac)
    root = base.removesuffix("/stac")
    for asset in item.get("assets", {}).values():
        asset["href"] = _absolute(asset["href"], root)
    links = [dict(link, href=_absolute(link["href"], root)) for link in item.get("links", [])
             if link.get("rel") not in ("self", "parent", "collection", "root")]
    coll = f"{base}/collections/{item['collection']}"
    item["links"] = links + [
        _link("self", f"{coll}/items/{item['id']}", GEOJSON), _link("parent", coll),
        _link("collection", coll), _link("root", base),
    ]
    return item


# --- parameters ------------------------------------------------------------------------------

def parse_bbox(value: str | list | None) -> shapely.Geometry | None:
    if value is None or value == "":
        return None
    try:
        numbers = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"bbox không hợp lệ / invalid bbox {value!r}: 4 or 6 numbers") from exc
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidInputError(f"bbox không hợp lệ / invalid bbox {value!r}: 4 or 6 finite numbers")
    x0, y0, x1, y1 = numbers
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InvalidInputError(f"bbox không hợp lệ / invalid bbox {value!r}: minlon,minlat,maxlon,maxlat in "
                                "degrees, min ≤ max (no antimeridian crossing)")
    return shapely.box(x0, y0, x1, y1)


def parse_intersects(value: Any) -> shapely.Geometry | None:
    if value is None:
        return None
    try:
        geom = shapely.geometry.shape(value)
    except Exception as exc:  # any malformed GeoJSON
        raise InvalidInputError(f"intersects không phải hình học GeoJSON / intersects is not a GeoJSON "
                                f"geometry: {str(exc)[:200]}") from exc
    if geom.is_empty:
        raise InvalidInputError("intersects rỗng / intersects is an empty geometry")
    xy = shapely.get_coordinates(geom)
    if not (np.isfinite(xy).all() and (abs(xy[:, 0]) <= 180).all() and (abs(xy[:, 1]) <= 90).all()):
        raise InvalidInputError("intersects ngoài phạm vi / intersects has coordinates that are not longitude, "
                                "latitude in degrees (finite, |lon| ≤ 180, |lat| ≤ 90)")
    return geom if geom.is_valid else shapely.make_valid(geom)


def _instant(text: str) -> dt.datetime | None:
    if text in ("", ".."):
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(f"datetime không hợp lệ / invalid datetime {text!r} (RFC 3339)") from exc
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def parse_datetime(value: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An instant, or an interval ``a/b`` with ``..`` (or nothing) for an open end."""
    if not value:
        return None, None
    if "/" not in value:
        when = _instant(value)
        return when, when
    first, _, second = value.partition("/")
    start, end = _instant(first), _instant(second)
    if start and end and start > end:
        raise InvalidInputError(f"khoảng thời gian ngược / interval ends before it starts: {value!r}")
    return start, end


def parse_limit(value: Any) -> int:
    if value is None or value == "":
        return catalog.DEFAULT_LIMIT
    try:
        limit = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"limit không hợp lệ / invalid limit {value!r}") from exc
    if limit < 1:
        raise InvalidInputError(f"limit phải ≥ 1 / limit must be at least 1, got {limit}")
    return min(limit, catalog.MAX_LIMIT)


def _names(value: str | list | None) -> list[str] | None:
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not all(isinstance(v, str) for v in items):
        raise InvalidInputError("collections và ids là danh sách chuỗi / collections and ids are lists of strings")
    return [v.strip() for v in items if v.strip()]


def build_search(params: dict, visible: dict[str, RasterCollection]) -> catalog.Search:
    """Checked search parameters from a GET query or a POST body."""
    if params.get("bbox") not in (None, "") and params.get("intersects") is not None:
        raise InvalidInputError("Chỉ dùng bbox hoặc intersects / use bbox or intersects, not both")
    wanted = _names(params.get("collections"))
    start, end = parse_datetime(params.get("datetime"))
    token = params.get("token")
    return catalog.Search(
        collections=[c for c in (wanted if wanted is not None else visible) if c in visible],
        ids=_names(params.get("ids")), geometry=parse_bbox(params.get("bbox")) or parse_intersects(
            params.get("intersects")), start=start, end=end, limit=parse_limit(params.get("limit")),
        token=str(token) if token else None)


# --- documents -------------------------------------------------------------------------------

def collection_doc(row: RasterCollection, base: str, extent: tuple | None) -> dict:
    agencies = read_agencies()
    agency = agencies.get(row.owner)
    bbox, start, end, count = extent or (None, None, None, 0)
    href = f"{base}/collections/{row.id}"
    return {
        "type": "Collection", "stac_version": STAC_VERSION, "stac_extensions": [], "id": row.id,
        "title": f"{row.title_vi} / {row.title_en}", "description": f"{row.description_vi}\n\n{row.description_en}",
        "keywords": list(row.keywords or []), "license": row.licence,
        "providers": [{"name": f"{agency.name_vi} / {agency.name_en}" if agency else row.owner,
                       "roles": ["producer", "licensor"]},
                      {"name": "Hạ tầng dữ liệu không gian tỉnh Lạng Sơn / Lạng Sơn SDI", "roles": ["host"],
                       "url": base.removesuffix("/stac")}],
        "extent": {"spatial": {"bbox": [bbox or PROVINCE_BBOX]},
                   "temporal": {"interval": [[start.isoformat() if start else None,
                                              end.isoformat() if end else None]]}},
        "summaries": {"sdi:kind": [row.kind]},
        "sdi:title_vi": row.title_vi, "sdi:title_en": row.title_en, "sdi:owner": row.owner,
        "sdi:access_level": row.access_level, "sdi:item_count": count,
        "links": [_link("self", href), _link("root", base), _link("parent", base),
                  _link("items", f"{href}/items", GEOJSON)],
    }


def _page_doc(page: catalog.Page, base: str, self_href: str, next_link: dict | None) -> dict:
    links = [_link("self", self_href, GEOJSON), _link("root", base)]
    if next_link:
        links.append(next_link)
    return {"type": "FeatureCollection", "features": [item_out(i, base) for i in page.items],
            "numberMatched": page.matched, "numberReturned": len(page.items), "links": links}


def _next_get(request: Request, token: str | None) -> dict | None:
    if token is None:
        return None
    return _link("next", str(request.url.include_query_params(token=token)), GEOJSON, method="GET")


# --- routes ----------------------------------------------------------------------------------

@router.get("", include_in_schema=False)
@router.get("/")
async def landing(request: Request) -> JSONResponse:
    """Trang gốc STAC / STAC landing page."""
    who = await caller(request)
    base = stac_base(request)
    visible = await _visible(request, who)
    links = [_link("self", base), _link("root", base), _link("conformance", f"{base}/conformance"),
             _link("data", f"{base}/collections"),
             _link("search", f"{base}/search", GEOJSON, method="GET"),
             _link("search", f"{base}/search", GEOJSON, method="POST"),
             _link("service-desc", stac_base(request).removesuffix("/stac") + "/openapi.json",
                   "application/vnd.oai.openapi+json;version=3.0")]
    links += [_link("child", f"{base}/collections/{c}", title=row.title_en) for c, row in visible.items()]
    return _json({"type": "Catalog", "stac_version": STAC_VERSION, "id": "langson-sdi-rasters",
                  "title": "Ảnh UAV và vệ tinh tỉnh Lạng Sơn / Lạng Sơn UAV and satellite imagery",
                  "description": "Danh mục STAC của ảnh UAV, ảnh vệ tinh và DEM / STAC catalogue of drone "
                                 "orthomosaics, satellite scenes and elevation models",
                  "conformsTo": CONFORMANCE, "links": links})


@router.get("/conformance")
async def conformance() -> JSONResponse:
    return _json({"conformsTo": CONFORMANCE})


@router.get("/collections")
async def collections(request: Request) -> JSONResponse:
    """Các bộ sưu tập ảnh / raster collections the caller may see."""
    who = await caller(request)
    base = stac_base(request)
    visible = await _visible(request, who)
    extents = await asyncio.to_thread(catalog.extents, request.app.state.engine, list(visible))
    docs = [collection_doc(row, base, extents.get(c)) for c, row in visible.items()]
    return _json({"collections": docs, "links": [_link("self", f"{base}/collections"), _link("root", base)]})


@router.get("/collections/{collection_id}")
async def collection(collection_id: str, request: Request) -> JSONResponse:
    who = await caller(request)
    row = await _collection(request, who, collection_id)
    extents = await asyncio.to_thread(catalog.extents, request.app.state.engine, [collection_id])
    await _logged(request, who, [row])
    return _json(collection_doc(row, stac_base(request), extents.get(collection_id)))


@router.get("/collections/{collection_id}/items")
async def items(collection_id: str, request: Request) -> JSONResponse:
    """Ảnh của một bộ sưu tập / a collection's items: bbox, datetime, limit, paging (token)."""
    who = await caller(request)
    row = await _collection(request, who, collection_id)
    query = dict(request.query_params)
    query.pop("collections", None)
    params = build_search(query, {row.id: row})
    page = await asyncio.to_thread(catalog.search, request.app.state.engine, params)
    body = _page_doc(page, stac_base(request), str(request.url), _next_get(request, page.next_token))
    await _logged(request, who, [row])
    return _json(body, GEOJSON)


@router.get("/collections/{collection_id}/items/{item_id}")
async def item(collection_id: str, item_id: str, request: Request) -> JSONResponse:
    who = await caller(request)
    row = await _collection(request, who, collection_id)
    params = catalog.Search(collections=[row.id], ids=[item_id], limit=1)
    page = await asyncio.to_thread(catalog.search, request.app.state.engine, params)
    if not page.items:
        raise NotFoundError(f"Không có ảnh / no item {item_id!r} in collection {collection_id!r}")
    await _logged(request, who, [row])
    return _json(item_out(page.items[0], stac_base(request)), GEOJSON)


@router.get("/search")
async def search_get(request: Request) -> JSONResponse:
    """Tìm ảnh / item search: bbox, intersects (JSON), datetime, collections, ids, limit, token."""
    who = await caller(request)
    query: dict[str, Any] = dict(request.query_params)
    if "intersects" in query:
        try:
            query["intersects"] = json.loads(query["intersects"])
        except ValueError as exc:
            raise InvalidInputError("intersects phải là GeoJSON / intersects must be GeoJSON") from exc
    visible = await _visible(request, who)
    page = await asyncio.to_thread(catalog.search, request.app.state.engine, build_search(query, visible))
    await _logged(request, who, [visible[i["collection"]] for i in page.items])
    return _json(_page_doc(page, stac_base(request), str(request.url), _next_get(request, page.next_token)), GEOJSON)


@router.post("/search")
async def search_post(request: Request) -> JSONResponse:
    who = await caller(request)
    try:
        body = await request.json()
    except ValueError as exc:
        raise InvalidInputError("Thân yêu cầu phải là JSON / the body must be JSON") from exc
    if not isinstance(body, dict):
        raise InvalidInputError("Thân yêu cầu phải là đối tượng JSON / the body must be a JSON object")
    try:  # JSON may carry lone surrogates (\ud800): not text the database can store or compare
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError("Chuỗi không phải Unicode hợp lệ / a string is not valid Unicode (lone "
                                "surrogate)") from exc
    visible = await _visible(request, who)
    page = await asyncio.to_thread(catalog.search, request.app.state.engine, build_search(body, visible))
    await _logged(request, who, [visible[i["collection"]] for i in page.items])
    base = stac_base(request)
    next_link = None
    if page.next_token:
        next_link = _link("next", f"{base}/search", GEOJSON, method="POST",
                          body={**body, "token": page.next_token}, merge=False)
    return _json(_page_doc(page, base, f"{base}/search", next_link), GEOJSON)


@router.post("/collections/{collection_id}/items", status_code=201)
async def upload(collection_id: str, request: Request) -> JSONResponse:
    """Tải ảnh lên / upload a GeoTIFF (multipart ``file`` or raw body; ``datetime`` and ``platform``
    as form fields or query parameters); staff of the owning agency only."""
    who = await caller(request)
    row = await _collection(request, who, collection_id)
    if who.anonymous:
        raise InvalidCredentialsError("Cần khoá API của cơ quan sở hữu / an API key of the owning agency is needed")
    if not can_edit(row, who):
        raise ForbiddenError(f"Chỉ cán bộ của cơ quan sở hữu ({row.owner}) được tải ảnh lên / only staff of the "
                             f"owning agency ({row.owner}) may add items to {collection_id!r}")
    settings = request.app.state.settings
    store = await asyncio.to_thread(open_store, settings)
    received = await streaming.receive(request, store.tmp_dir, settings.max_raster_bytes)
    staged = store.tmp_dir / f"upload-{received.sha256[:12]}-{received.path.name.rsplit('-', 1)[-1]}.tif"
    received.path.rename(staged)
    try:
        text = request.query_params.get("datetime") or received.fields.get("datetime")
        if not text:
            raise InvalidInputError("Thiếu thời điểm chụp / 'datetime' is required (ISO 8601), as a form field "
                                    "or a query parameter")
        name = received.filename or request.query_params.get("filename") or "upload.tif"
        job = partial(ingest_file, staged, collection_id=collection_id, when=parse_when(text),
                      engine=request.app.state.engine, settings=settings, store=store,
                      platform=request.query_params.get("platform") or received.fields.get("platform") or None,
                      source_name=name.replace("/", "_").replace("\\", "_"), sha256=received.sha256)
        state = request.app.state  # one ingest at a time per application (they are CPU- and disk-bound)
        if getattr(state, "raster_ingest_limiter", None) is None:
            state.raster_ingest_limiter = anyio.CapacityLimiter(1)
        result = await anyio.to_thread.run_sync(job, limiter=state.raster_ingest_limiter)
    finally:
        staged.unlink(missing_ok=True)
    base = stac_base(request)
    out = item_out(result.stac, base)
    location = f"{base}/collections/{collection_id}/items/{result.item_id}"
    return _json(out, GEOJSON, 201 if result.status == "ingested" else 200, Location=location)
