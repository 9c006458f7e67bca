"""OGC API – Records over the layer catalogue and the raster collections: ``CatalogueProvider``.

pygeoapi's record providers are TinyDB and Elasticsearch only; the catalogue lives in PostGIS and
is a few dozen rows, so this one is written by hand and filters in Python. The layers a caller may
see come with the view (``sdi_visible``); the raster collections are read for the caller at each
query (``rasters.catalog.visible_collections``: the one access rule, grants included).
"""

from __future__ import annotations

from typing import Any

import shapely
from pygeoapi.provider.base import BaseProvider, ProviderInvalidQueryError, ProviderItemNotFoundError

from api.ogc import context
from rasters.catalog import extents, visible_collections
from sdi.agencies import read_agencies
from sdi.models import RasterCollection
from sdi.text import fold, search_terms

PROVINCE_BBOX = [106.0, 21.3, 107.4, 22.5]


class CatalogueProvider(BaseProvider):
    """OGC API – Records over the layer catalogue (only the layers the caller may see)."""

    def __init__(self, provider_def: dict) -> None:
        super().__init__(provider_def)
        self.visible = set(provider_def.get("sdi_visible", []))
        self._fields = {
            "type": {"type": "string"}, "title": {"type": "string"}, "title_en": {"type": "string"},
            "description": {"type": "string"}, "description_en": {"type": "string"},
            "keywords": {"type": "array", "items": {"type": "string"}},
            "keywords_en": {"type": "array", "items": {"type": "string"}}, "owner": {"type": "string"},
            "access_level": {"type": "string"}, "update_frequency": {"type": "string"},
            "resource": {"type": "string", "enum": ["vector", "raster"]},
            "updated": {"type": "string", "format": "date-time"}, "license": {"type": "string"},
        }

    def get_fields(self) -> dict:
        return self._fields

    def _records(self) -> list[dict]:
        services = context.current()
        layers = [record(services.catalog[i]) for i in sorted(self.visible) if i in services.catalog]
        rasters = visible_collections(services.engine, context.caller())
        spans = extents(services.engine, list(rasters))
        return layers + [raster_record(row, spans.get(row.id)) for row in rasters.values()]

    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results", bbox: list | None = None,
              datetime_: str | None = None, properties: list | None = None, sortby: list | None = None,
              select_properties: list | None = None, skip_geometry: bool = False, q: str | None = None,
              filterq: Any = None, **kwargs: Any) -> dict:
        if filterq is not None:
            raise ProviderInvalidQueryError(user_msg="Danh mục chưa hỗ trợ filter; dùng q, bbox hoặc thuộc tính / "
                                            "the catalogue supports q, bbox and property filters, not filter")
        records = self._records()
        if q:
            terms = search_terms(q)
            records = [r for r in records if all(t in fold(_text(r)) for t in terms)]
        if bbox:
            box = shapely.box(*bbox[:4])
            records = [r for r in records if shapely.geometry.shape(r["geometry"]).intersects(box)]
        for name, value in properties or []:
            if name not in self._fields:
                raise ProviderInvalidQueryError(user_msg=f"Không có thuộc tính / unknown property: {name}")
            records = [r for r in records if str(r["properties"].get(name)) == str(value)]
        for sort in reversed(sortby or []):
            if sort["property"] not in self._fields:
                raise ProviderInvalidQueryError(user_msg=f"Không có thuộc tính / unknown property: {sort['property']}")
            prop = sort["property"]
            records.sort(key=lambda r: str(r["properties"].get(prop) or ""), reverse=sort["order"] == "-")
        matched = len(records)
        page = [] if resulttype == "hits" else records[offset:offset + limit]
        if skip_geometry:
            page = [{**r, "geometry": None} for r in page]
        return {"type": "FeatureCollection", "features": page, "numberMatched": matched,
                "numberReturned": len(page)}

    def get(self, identifier: str, **kwargs: Any) -> dict:
        for r in self._records():
            if r["id"] == identifier:
                return r
        raise ProviderItemNotFoundError(user_msg=f"Không có bản ghi / no such record: {identifier}")


def record(layer: Any) -> dict:
    """One catalogue record (OGC API – Records core properties) for ``layer``."""
    ext = layer.extent or PROVINCE_BBOX
    base = context.current().settings.base_url
    return {
        "id": layer.id,
        "type": "Feature",
        "conformsTo": ["http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"],
        "geometry": shapely.geometry.mapping(shapely.box(*ext)),
        "properties": {
            "type": "dataset",
            # Vietnamese and English as separate fields (the record's language is Vietnamese)
            "title": layer.title_vi,
            "title_en": layer.title_en,
            "description": layer.abstract_vi,
            "description_en": layer.abstract_en,
            "keywords": layer.keywords,
            "keywords_en": getattr(layer, "keywords_en", []),
            "language": {"code": "vi"},
            "languages": [{"code": "vi"}, {"code": "en"}],
            "owner": f"{layer.owner_agency} / {layer.owner_agency_en}",
            "contacts": [{"organization": layer.owner_agency, "roles": ["owner"],
                          **({"emails": [{"value": layer.contact}]} if getattr(layer, "contact", None) else {})}],
            "lineage": getattr(layer, "lineage", None),
            "time": _time(layer),
            "license": layer.licence,
            "rights": layer.attribution,
            "access_level": layer.access_level,
            "update_frequency": layer.update_frequency,
            "updated": layer.last_updated.isoformat() if layer.last_updated else None,
            "feature_count": layer.feature_count,
            "geometry_type": ",".join(layer.geometry) or None,
            "resource": "vector",
        },
        "links": [
            {"rel": "item", "type": "application/geo+json", "title": "Đối tượng / features",
             "href": f"{base}/ogc/collections/{layer.id}/items"},
            {"rel": "describedby", "type": "application/json", "title": "Siêu dữ liệu / metadata",
             "href": f"{base}/layers/{layer.id}"},
        ],
    }


def raster_record(row: RasterCollection, extent: tuple | None) -> dict:
    """The record of a raster collection (its items are served by the STAC API)."""
    bbox, start, end, count = extent or (None, None, None, 0)
    agency = read_agencies().get(row.owner)
    base = context.current().settings.base_url
    return {
        "id": row.id,
        "type": "Feature",
        "conformsTo": ["http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"],
        "geometry": shapely.geometry.mapping(shapely.box(*(bbox or PROVINCE_BBOX))),
        "properties": {
            "type": "dataset",
            "title": row.title_vi, "title_en": row.title_en,
            "description": row.description_vi, "description_en": row.description_en,
            "keywords": list(row.keywords or []), "keywords_en": [],
            "language": {"code": "vi"},
            "languages": [{"code": "vi"}, {"code": "en"}],
            "owner": f"{agency.name_vi} / {agency.name_en}" if agency else row.owner,
            "contacts": [{"organization": agency.name_vi if agency else row.owner, "roles": ["owner"]}],
            "time": {"interval": [start.isoformat(), end.isoformat()]} if start and end else None,
            "license": row.licence,
            "access_level": row.access_level,
            "item_count": count,
            "resource": "raster",
        },
        "links": [
            {"rel": "item", "type": "application/geo+json", "title": "Ảnh / items (STAC)",
             "href": f"{base}/stac/collections/{row.id}/items"},
            {"rel": "describedby", "type": "application/json", "title": "Bộ sưu tập STAC / STAC collection",
             "href": f"{base}/stac/collections/{row.id}"},
        ],
    }


def _time(layer: Any) -> dict | None:
    start, end = getattr(layer, "temporal_start", None), getattr(layer, "temporal_end", None)
    if start is None and end is None:
        return None
    return {"interval": [start.isoformat() if start else "..", end.isoformat() if end else ".."]}


def _text(rec: dict) -> str:
    p = rec["properties"]
    return " ".join([rec["id"], p["title"], p["title_en"] or "", p["description"] or "", p["description_en"] or "",
                     " ".join(p["keywords"]), " ".join(p["keywords_en"]), p["owner"]])






#: The CRSs of the records: bounding boxes in lon/lat only (records are for finding data, not measuring it)
RECORDS_CRS = ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]


def declare_crs(body: dict) -> dict:
    """Add ``crs`` and ``storageCrs`` (Features Part 2) to the record collections of a collection document or
    list: pygeoapi 0.24 lists them for feature collections only (``api/collection.py``), while the landing
    page claims Part 2 for the whole API, and clients that read the list (GDAL's OAPIF driver) then fail."""
    for doc in body.get("collections", [body]):
        if doc.get("itemType") == "record":
            doc.setdefault("crs", RECORDS_CRS)
            doc.setdefault("storageCrs", RECORDS_CRS[0])
    return body


def refused_crs(crs: str | None) -> str | None:
    """The refusal of a ``crs`` the records are not offered in (pygeoapi ignores the parameter for
    records, so an unsupported one would silently come back in CRS84); None when it is fine."""
    if crs is None or crs.strip("<>") in RECORDS_CRS:
        return None
    return (f"Danh mục chỉ có hệ toạ độ CRS84 / the catalogue is offered in CRS84 only "
            f"({RECORDS_CRS[0]}), not {crs[:120]!r}")
