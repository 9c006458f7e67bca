"""pygeoapi configuration generated from the layer catalogue (no hand-kept YAML to drift).

``pygeoapi_config`` builds the whole configuration for one *view*: the layers one kind of
caller may see (and edit). The gateway keeps one pygeoapi ``API`` per view, so a layer a
caller may not see is simply absent from every document pygeoapi produces for them.
"""

from __future__ import annotations

from collections.abc import Iterable

from api.ogc.jobs import manager_config
from layers.catalog import Layer
from sdi.agencies import read_agencies
from sdi.settings import Settings

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#: Output and bbox CRSs (Features Part 2): CRS84, WGS 84, Web Mercator, VN-2000 TM-3 107°15′
#: (the province's projection) and VN-2000 UTM 48N.
CRS_LIST = [CRS84, *(f"http://www.opengis.net/def/crs/EPSG/0/{code}" for code in (4326, 3857, 9215, 3405))]
LANGUAGES = ["vi", "en"]  # Vietnamese first: the default when a client asks for nothing else
OGC_PATH = "/ogc"
#: The records collection of the catalogue (OGC API – Records).
CATALOGUE_ID = "catalogue"


_KINDS: dict[tuple[str, ...], str] = {("MULTIPOLYGON",): "polygon", ("MULTILINESTRING",): "line",
                                      ("POINT",): "point"}


def _both(vi: str, en: str) -> dict[str, str]:
    return {"vi": vi, "en": en}


def _pg_options(settings: Settings) -> dict[str, str]:
    ms = settings.statement_timeout_ms
    return {"options": f"-c statement_timeout={int(ms)}"} if ms else {}


def layer_resource(layer: Layer, settings: Settings, database: str, editable: bool) -> dict:
    """The pygeoapi resource of one layer: features (PostgreSQL) and vector tiles (MVT)."""
    ext = layer.extent or [102.0, 8.0, 110.0, 24.0]
    big = layer.feature_count > settings.ogc_count_threshold
    common: dict = {
        "data": database,
        "table": layer.table,
        "id_field": layer.natural_key,
        "geom_field": "geom",
        # pygeoapi's SQL providers keep their own engine: the same statement_timeout as the app's (the
        # "options" entry goes to psycopg as the libpq options string); pygeoapi reflects the table from
        # the first schema of search_path (published layers: ``published``)
        "options": {"pool_size": 5, "max_overflow": 5, "connect_timeout": 10, **_pg_options(settings),
                    **({"search_path": [layer.db_schema, "public"]} if layer.published else {})},
    }
    providers: list[dict] = [{
        "type": "feature",
        "name": "api.ogc.providers.FeatureProvider",
        **common,
        # lon/lat columns: CRS84 keeps x = longitude on every output (no axis flip).
        "storage_crs": CRS84,
        "crs": CRS_LIST,
        "count": not big,
        **({"time_field": layer.time_field} if layer.time_field else {}),
        "editable": editable,
        "sdi_layer": layer.id,
    }]
    if layer.has_geometry:
        providers.append({
            "type": "tile",
            "name": "api.ogc.providers.TileProvider",
            **common,
            "storage_crs": CRS84,
            "sdi_layer": layer.id,
            "sdi_big": big,
            "sdi_kind": _KINDS.get(tuple(layer.geometry), "mixed"),
            "options": {**common["options"], "zoom": {"min": 0, "max": 22}},
            "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"},
        })
    return {
        "type": "collection",
        "title": _both(layer.title_vi, layer.title_en),
        "description": _both(layer.abstract_vi, layer.abstract_en),
        "keywords": layer.keywords,
        "links": [{"type": "text/html", "rel": "license", "title": layer.licence,
                   "href": f"{settings.base_url}/layers/{layer.id}"}],
        "extents": {"spatial": {"bbox": [round(v, 6) for v in ext], "crs": CRS84}},
        "linked-data": {},
        "providers": providers,
    }


def catalogue_resource(settings: Settings, database: str, visible: Iterable[str]) -> dict:
    """The searchable catalogue of the visible layers (OGC API – Records)."""
    return {
        "type": "collection",
        "title": _both("Danh mục dữ liệu", "Data catalogue"),
        "description": _both("Siêu dữ liệu của mọi lớp dữ liệu: tiêu đề, tóm tắt, từ khoá, cơ quan, giấy phép, "
                             "phạm vi, tần suất cập nhật",
                             "Metadata of every layer: title, abstract, keywords, agency, licence, extent, "
                             "update frequency"),
        "keywords": ["danh mục", "siêu dữ liệu", "catalogue", "metadata"],
        "links": [],
        "extents": {"spatial": {"bbox": [106.0, 21.3, 107.4, 22.5], "crs": CRS84}},
        "providers": [{
            "type": "record",
            "name": "api.ogc.records.CatalogueProvider",
            "data": database,
            "table": "layers",
            "id_field": "id",
            "geom_field": "geom",
            "storage_crs": CRS84,
            "sdi_visible": sorted(visible),
        }],
    }


def pygeoapi_config(catalog: dict[str, Layer], settings: Settings, database: str,
                    visible: Iterable[str], editable: Iterable[str]) -> dict:
    """The pygeoapi configuration for a caller who may see ``visible`` and edit ``editable``."""
    visible, editable = set(visible), set(editable)
    agency = read_agencies()["ubnd"]
    resources = {CATALOGUE_ID: catalogue_resource(settings, database, visible)}
    for layer_id in sorted(visible):
        resources[layer_id] = layer_resource(catalog[layer_id], settings, database, layer_id in editable)
    # OGC API – Processes: forest change detection (execution gated by the gateway: rangers, admins)
    resources["forest-change"] = {"type": "process", "processor": {"name": "api.ogc.processes.ForestChangeProcessor"}}
    return {
        "server": {
            "bind": {"host": settings.host, "port": settings.port},
            "url": settings.base_url + OGC_PATH,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,  # FastAPI's GZip middleware compresses every response
            "languages": LANGUAGES,
            "cors": False,  # CORS belongs to FastAPI
            "pretty_print": False,
            "limits": {"default_items": settings.ogc_default_items, "max_items": settings.ogc_max_items,
                       "on_exceed": "error"},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                    "attribution": "&copy; OpenStreetMap contributors (ODbL)"},
            "admin": False,
            # jobs of asynchronous processes (forest-change) in PostgreSQL, results included: seen by every
            # replica, kept across restarts
            "manager": manager_config(database),
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": _both("Hạ tầng dữ liệu không gian tỉnh Lạng Sơn", "Lạng Sơn Spatial Data Infrastructure"),
                "description": _both("Dữ liệu không gian dùng chung của các sở, ngành tỉnh Lạng Sơn theo chuẩn OGC API",
                                     "Shared spatial data of Lạng Sơn's provincial agencies through OGC API"),
                "keywords": ["Lạng Sơn", "SDI", "OGC API", "biên giới", "rừng", "bài toán lớn"],
                "keywords_type": "theme",
                "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                "url": settings.base_url,
            },
            "license": {"name": "Theo từng lớp / per layer (see each collection)",
                        "url": settings.base_url + "/layers"},
            "provider": {"name": agency.name_vi, "url": settings.base_url},
            "contact": {"name": "Sở Khoa học và Công nghệ tỉnh Lạng Sơn", "position": "SDI",
                        "address": "Lạng Sơn", "city": "Lạng Sơn", "country": "Việt Nam",
                        "url": settings.base_url, "role": "pointOfContact"},
        },
        "resources": resources,
    }
