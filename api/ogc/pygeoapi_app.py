"""pygeoapi itself, adapted: its Starlette app, served one view at a time.

pygeoapi's Starlette app routes requests to handlers that call its module-level
``execute_from_starlette`` with one global ``API``; ``_install_view_executor`` swaps that
function for one that passes the per-request view instead (pygeoapi's own
``alternative_api`` argument), binds the application's services to the worker thread
(``api.ogc.context``) and fixes what pygeoapi gets wrong for our clients: errors as
problem+json, items as ``application/geo+json``, 500s from bad item ids as 404, queryables
that name the stored geometry type.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygeoapi.api as core_api
import yaml
from pygeoapi import l10n
from pygeoapi.api import itemtypes
from starlette.requests import Request
from starlette.responses import Response

from api.ogc import context, crs_cache, records
from api.ogc.config import CATALOGUE_ID
from api.ogc.openapi import openapi_document
from layers.catalog import Layer
from sdi.access import Principal
from sdi.problems import SERVER_ERROR, TITLES, answer, problem_at
from sdi.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class View:
    """One pygeoapi API for one set of visible and editable layers."""

    api: Any
    config: dict
    visible: frozenset[str]
    editable: frozenset[str]
    openapi_ready: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ensure_openapi(self) -> None:
        """The OpenAPI document, built on first use (it loads every provider)."""
        if self.openapi_ready:
            return
        with self.lock:
            if not self.openapi_ready:
                self.api.openapi = openapi_document(self.config)
                self.openapi_ready = True


def starlette_app(settings: Settings, config: dict) -> Any:
    """Import pygeoapi's Starlette app; it reads its config files at import, so write them first."""
    folder = settings.state_dir / "pygeoapi"
    folder.mkdir(parents=True, exist_ok=True)
    cfg_file, oas_file = folder / "pygeoapi-config.yml", folder / "openapi.yml"
    public = {**config, "resources": {}}  # the import-time API never serves a request
    _write_private(cfg_file, yaml.safe_dump(public, allow_unicode=True, sort_keys=False))
    if not oas_file.exists():
        _write_private(oas_file, "openapi: 3.0.2\ninfo: {title: Lạng Sơn SDI, version: '0'}\npaths: {}\n")
    os.environ["PYGEOAPI_CONFIG"], os.environ["PYGEOAPI_OPENAPI"] = str(cfg_file), str(oas_file)
    import pygeoapi.starlette_app as pga  # here, not above: it reads the files just written when imported

    _install_view_executor(pga)
    return pga.APP


def _write_private(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(content, encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)  # atomic: several servers (tests) may start at once


_installed = False
_current = threading.local()


def clear_config_cache() -> None:
    """Forget pygeoapi's translated configurations (the catalogue changed)."""
    l10n._cfg_cache.clear()


class _PerViewConfigCache(dict):
    """pygeoapi caches its translated configuration (for HTML pages) per locale only, as if
    there were one configuration; with one per view, key the cache by view as well."""

    def get(self, locale: Any, default: Any = None) -> Any:
        return super().get((getattr(_current, "view", None), locale), default)

    def __setitem__(self, locale: Any, value: Any) -> None:
        super().__setitem__((getattr(_current, "view", None), locale), value)


def _install_view_executor(pga: Any) -> None:
    global _installed
    if _installed:
        return
    original = pga.execute_from_starlette

    async def execute_for_view(api_function: Callable, request: Request, *args: Any,
                               skip_valid_check: bool = False, alternative_api: Any = None) -> Response:
        view: View | None = request.scope.get("sdi.view")
        if view is None:  # not through the gateway: nothing is served
            return problem_at(404, TITLES[404], "", request.url.path)
        who: Principal = request.scope["sdi.principal"]
        services: context.Services = request.scope["sdi.services"]
        refusal = records.refused_crs(request.query_params.get("crs")) if request.url.path.rstrip("/").endswith(
            f"/collections/{CATALOGUE_ID}/items") else None
        if refusal is not None:
            return problem_at(400, TITLES[400], refusal, request.url.path)
        if api_function is core_api.openapi_:
            await asyncio.to_thread(context.bound, services, who, view.ensure_openapi)

        def in_worker(api: Any, api_request: Any, *a: Any) -> Any:
            context.bind(services, who)
            _current.view = id(view)
            return api_function(api, api_request, *a)

        try:
            response = await original(in_worker, request, *args, skip_valid_check=skip_valid_check,
                                      alternative_api=view.api)
        except Exception as exc:  # noqa: BLE001 - any failure inside pygeoapi: the one error table answers it
            # (a query over the time limit is a 503 saying so, a value refused by the database a 400; other
            # errors a 5xx logged with no details)
            return answer(exc, request.url.path)
        return _fix_response(response, request, args)

    pga.execute_from_starlette = execute_for_view
    l10n._cfg_cache = _PerViewConfigCache()
    crs_cache.install()
    _declare_filtering()
    # pygeoapi logs every 4xx as an error with a traceback; the gateway logs real failures.
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("pygeoapi").setLevel(logging.CRITICAL)
    _installed = True


#: Features Part 3 and CQL2 classes pygeoapi implements (through pygeofilter and its
#: PostgreSQL provider) but does not declare. QGIS sends filters to the server only when
#: ``filter``, ``features-filter``, ``cql2-text`` and ``basic-cql2`` are all declared; the
#: tests prove each of these against the running server.
EXTRA_FEATURES_CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
]


def _declare_filtering() -> None:
    for uri in EXTRA_FEATURES_CONFORMANCE:
        if uri not in itemtypes.CONFORMANCE_CLASSES_FEATURES:
            itemtypes.CONFORMANCE_CLASSES_FEATURES.append(uri)


def _fix_response(response: Response, request: Request, args: tuple) -> Response:
    """Errors as problem+json (4xx with pygeoapi's message; 5xx without details), GeoJSON
    items as ``application/geo+json``."""
    ctype = response.headers.get("content-type", "")
    status = response.status_code
    path = request.url.path
    if status >= 400 and "json" in ctype:
        try:
            body = json.loads(bytes(response.body))
        except ValueError:
            body = {}
        detail = str(body.get("description") or body.get("detail") or "")
        code = body.get("code")
        if status >= 500:
            if code in ("NotFound",) or "item" in path and request.method == "GET" and "/items/" in path:
                status, detail = 404, detail or "Không có đối tượng / no such item"
            else:
                logger.error("pygeoapi %s on %s: %s", status, path, detail)
                detail = SERVER_ERROR
        return problem_at(status, TITLES.get(status, "Lỗi / Error"), detail, path, code=code)
    if status == 200 and "json" in ctype and re.search(r"/collections/[^/]+/(queryables|schema)$", path):
        return _declare_geometry(response, path, request.scope["sdi.services"].catalog)
    if status == 200 and ctype.startswith("application/json") and re.search(
            rf"/collections(/{CATALOGUE_ID})?/?$", path):
        body = records.declare_crs(json.loads(bytes(response.body)))
        return Response(json.dumps(body, ensure_ascii=False).encode(), status_code=200, media_type=ctype,
                        headers={k: v for k, v in response.headers.items() if k.lower() != "content-length"})
    if status < 300 and "/items" in path and ctype.startswith("application/json") and \
            request.query_params.get("f", "json") in ("json", "geojson"):
        response.headers["content-type"] = "application/geo+json"
    return response


#: Features Part 5 geometry formats of the catalogue's geometry types
_GEOMETRY_FORMATS: dict[tuple[str, ...], str] = {
    ("POINT",): "geometry-point", ("MULTIPOLYGON",): "geometry-multipolygon",
    ("MULTILINESTRING",): "geometry-multilinestring"}


def _declare_geometry(response: Response, path: str, catalog: dict[str, Layer]) -> Response:
    """Queryables and schemas say ``geometry-any`` for every layer; say the stored type, so a
    client knows it even for an empty collection, and drop the geometry of tables."""
    layer_id = path.rstrip("/").split("/")[-2]
    layer = catalog.get(layer_id)
    if layer is None:
        return response
    body = json.loads(bytes(response.body))
    geometry = body.get("properties", {}).get("geometry")
    if geometry is not None:
        if not layer.geometry:
            del body["properties"]["geometry"]
        else:
            geometry["format"] = _GEOMETRY_FORMATS.get(tuple(layer.geometry), "geometry-any")
    fixed = Response(json.dumps(body, ensure_ascii=False).encode(), status_code=200,
                     media_type=response.headers.get("content-type"))
    return fixed
