"""The OGC API at ``/ogc``: pygeoapi behind one door that applies the access rule.

Every request passes through ``OGCGateway``:

1. the caller is identified (``Authorization: Bearer KEY``, ``X-API-Key: KEY`` or HTTP
   Basic with the key as password, which QGIS's basic authentication sends);
2. the catalogue gives the layers the caller may see and edit (``sdi.access``);
3. the request is served by the pygeoapi ``API`` built for exactly that set of layers, so a
   layer the caller may not see is absent from every list, document and link, and any path
   naming it answers 404, as an unknown layer does;
4. writes need a key of the owning agency; reads of restricted layers and all writes go
   to the audit log.

pygeoapi's Starlette app routes requests to handlers that call its module-level
``execute_from_starlette`` with one global ``API``; ``_install_view_executor`` swaps that
function for one that passes the per-request view instead (pygeoapi's own
``alternative_api`` argument) and fixes what pygeoapi gets wrong for our clients: errors as
problem+json, items as ``application/geo+json``, 500s from bad item ids as 404.

The configuration is rebuilt when the catalogue changes (checked at most once a second), so
a new or re-classified layer is served without a restart.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import yaml
from sqlalchemy import Engine, text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from api.errors import problem_at
from api.ogc import crs_cache, runtime
from api.ogc.config import CATALOGUE_ID, pygeoapi_config
from layers.catalog import Layer, load_catalog
from sdi.access import ANONYMOUS, KeyCache, Principal, can_edit, may_run_processes, visible
from sdi.models import AccessLogEntry
from sdi.settings import Settings

logger = logging.getLogger(__name__)

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_COLLECTION = re.compile(r"^/collections/([^/]+)(/.*)?$")
_VERSION_SQL = text(
    "SELECT md5(coalesce(string_agg(concat_ws('|', id, access_level, owner, title_vi, title_en, "
    "feature_count, last_updated, extent::text), ',' ORDER BY id), '')) FROM layers"
)


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
                from api.ogc.openapi import openapi_document

                self.api.openapi = openapi_document(self.config)
                self.openapi_ready = True


problem = problem_at  # the gateway answers from ASGI scopes: problems name their path


def invalid_key(path: str) -> JSONResponse:
    return problem(401, "Khoá không hợp lệ / invalid credentials",
                   "Khoá API sai hoặc đã bị thu hồi / the API key is wrong or revoked", path)


def api_key(request: Request) -> str | None:
    """The key the caller sent, if any."""
    if key := request.headers.get("x-api-key"):
        return key
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip()).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return "invalid"
    return None


class OGCGateway:
    """ASGI app: access control in front of pygeoapi's Starlette app (mounted at ``/ogc``)."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings, self.engine = settings, engine
        self._views: dict[tuple[frozenset[str], frozenset[str]], View] = {}
        self._catalog: dict[str, Layer] = {}
        self._version: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.keys = KeyCache(engine)
        self._refresh(force=True)
        self.app = _pygeoapi_app(settings, self._views_config_for_import())

    # --- catalogue and views ---------------------------------------------------------------

    @property
    def database(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < 1.0:
            return
        with self._lock:
            with self.engine.connect() as conn:
                version = conn.execute(_VERSION_SQL).scalar()
            self._checked = now
            if version != self._version:
                self._catalog = load_catalog(self.engine)
                self._views = {}
                _clear_config_cache()
                self._version = version
                runtime.configure(self.engine, self.settings, self._catalog)
                logger.info("OGC API configuration (re)built from the catalogue: %d layers", len(self._catalog))

    def catalog(self) -> dict[str, Layer]:
        self._refresh()
        return self._catalog

    def view_for(self, who: Principal) -> View:
        catalog = self.catalog()
        seen = frozenset(i for i, layer in catalog.items() if visible(layer, who))
        edits = frozenset(i for i in seen if can_edit(catalog[i], who))
        key = (seen, edits)
        view = self._views.get(key)
        if view is None:
            from pygeoapi.api import API

            config = pygeoapi_config(catalog, self.settings, self.database, seen, edits)
            view = View(api=API(config, {}, {}), config=config, visible=seen, editable=edits)
            self._views[key] = view
        return view

    async def identify(self, request: Request) -> Principal | None:
        """The caller of ``request``: ANONYMOUS without a key, None for a bad key."""
        key = api_key(request)
        if not key:
            return ANONYMOUS
        who = self.keys.cached(key)  # checked within the last second: no thread hop, no query
        if who is not None:
            return who
        return await asyncio.to_thread(self.keys.check, key)

    def visible_layers(self, who: Principal) -> dict[str, Layer]:
        """The layers ``who`` may see, for doors outside pygeoapi (QGIS project, TileJSON)."""
        return {i: layer for i, layer in self.catalog().items() if visible(layer, who)}

    def _views_config_for_import(self) -> dict:
        return pygeoapi_config(self._catalog, self.settings, self.database, (), ())

    # --- the door ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = scope["path"][len(scope.get("root_path", "")):] if scope["path"].startswith(
            scope.get("root_path", "")) else scope["path"]
        who = await self.identify(request)
        if who is None:
            await invalid_key(scope["path"])(scope, receive, send)
            return
        view = await asyncio.to_thread(self.view_for, who)
        match = _COLLECTION.match(path)
        collection = match.group(1) if match else None
        if collection is not None and collection != CATALOGUE_ID and collection not in view.visible:
            await problem(404, "Không tìm thấy / Not found",
                          f"Không có lớp dữ liệu / no collection {collection!r}", scope["path"])(scope, receive, send)
            return
        method = scope["method"]
        if re.match(r"^/jobs(/.*)?$", path):
            # job status and results carry what a process found (e.g. internal change events):
            # the same callers who may run processes may read them
            denied = _process_denied(who, scope)
            if denied is not None:
                await denied(scope, receive, send)
                return
        if collection is not None and re.match(r"^/collections/[^/]+/tiles/WebMercatorQuad/tilejson(\.json)?$", path):
            await self._tilejson(collection, request)(scope, receive, send)
            return
        if method in WRITE_METHODS:
            denied = self._write_denied(who, view, collection, path, scope)
            if denied is not None:
                await denied(scope, receive, send)
                return
            body = await _read_body(receive, self.settings.ogc_max_body_bytes)
            if body is None:  # counted as it streams in: a missing or false Content-Length changes nothing
                await problem(413, "Yêu cầu quá lớn / Request too large",
                              f"Tối đa / at most {self.settings.ogc_max_body_bytes} bytes", scope["path"])(
                    scope, receive, send)
                return
            receive = _replay(body)
        scope["sdi.view"], scope["sdi.principal"] = view, who
        scope, receive = _cql2_json_in_query(scope, receive)
        audited = collection is not None and collection in self._catalog and (
            method in WRITE_METHODS or self._catalog[collection].access_level == "restricted")
        if not audited:
            await self.app(scope, receive, send)
            return

        assert collection is not None  # audited: a collection was named

        async def send_and_audit(message: Message) -> None:
            # written before the response starts: no restricted data leaves without its log entry
            if message["type"] == "http.response.start":
                await asyncio.to_thread(self._audit, who, collection, method, scope, message["status"])
            await send(message)

        await self.app(scope, receive, send_and_audit)

    def _tilejson(self, collection: str, request: Request) -> Response:
        from api.ogc.tilejson import tilejson

        layer = self._catalog.get(collection)
        if layer is None or not layer.has_geometry:
            return problem(404, "Không tìm thấy / Not found", f"Lớp không có ô bản đồ / no tiles for {collection!r}",
                           request.url.path)
        lang = "en" if request.query_params.get("lang", "vi").startswith("en") else "vi"
        return JSONResponse(tilejson(layer, self.settings.base_url + "/ogc", lang))

    def _write_denied(self, who: Principal, view: View, collection: str | None, path: str,
                      scope: Scope) -> Response | None:
        if re.match(r"^/(processes/[^/]+/execution|jobs/[^/]+)$", path):
            return _process_denied(who, scope)
        if collection is None or not re.match(r"^/collections/[^/]+/items(/[^/]+)?$", path):
            return problem(405, "Không cho phép / Method not allowed",
                           "Chỉ đối tượng của lớp mới sửa được qua API / only collection items can be written",
                           scope["path"])
        if who.anonymous:
            return problem(401, "Cần đăng nhập / Authentication required",
                           "Sửa dữ liệu cần khoá API của cơ quan chủ quản / editing needs a key of the owning "
                           "agency", scope["path"])
        if collection not in view.editable:
            return problem(403, "Không có quyền / Forbidden",
                           f"Chỉ cơ quan chủ quản mới sửa được lớp / only the owning agency may edit {collection!r}",
                           scope["path"])
        return None

    def _audit(self, who: Principal, layer_id: str, method: str, scope: Scope, status: int) -> None:
        qs = scope.get("query_string", b"").decode(errors="replace")
        entry = AccessLogEntry(key_id=who.key_id, key_name=who.name, layer_id=layer_id,
                               action="write" if method in WRITE_METHODS else "read", method=method,
                               path=scope["path"] + (f"?{qs}" if qs else ""), status=status)
        from sqlalchemy.orm import Session

        with Session(self.engine) as session:
            session.add(entry)
            session.commit()


def _process_denied(who: Principal, scope: Scope) -> Response | None:
    """Executing a process (forest change) or reading its jobs needs a key of the rangers or an admin."""
    if who.anonymous:
        return problem(401, "Cần đăng nhập / Authentication required",
                       "Chạy tiến trình cần khoá API của Chi cục Kiểm lâm / executing a process needs a key of the "
                       "Forest Protection Sub-department (kiemlam)", scope["path"])
    if not may_run_processes(who):
        return problem(403, "Không có quyền / Forbidden",
                       "Chỉ kiểm lâm hoặc quản trị mới chạy được tiến trình / only rangers (kiemlam) or admins may "
                       "execute processes", scope["path"])
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it grows past ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _cql2_json_in_query(scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
    """``?filter-lang=cql2-json&filter={...}`` on GET: pygeoapi only reads CQL2 JSON from a
    request body, so move the filter there (clients such as QGIS and GDAL send it in the URL)."""
    if scope["method"] != "GET" or b"cql2-json" not in scope.get("query_string", b""):
        return scope, receive
    params = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
    body = next((v for k, v in params if k == "filter"), None)
    if body is None:
        return scope, receive
    rest = [(k, v) for k, v in params if k != "filter"]
    scope = {**scope, "query_string": urlencode(rest).encode()}
    sent = False

    async def with_body() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body.encode(), "more_body": False}
        return await receive()

    return scope, with_body


# --- pygeoapi itself ---------------------------------------------------------------------------

def _pygeoapi_app(settings: Settings, config: dict) -> Any:
    """Import pygeoapi's Starlette app; it reads its config files at import, so write them first."""
    folder = settings.state_dir / "pygeoapi"
    folder.mkdir(parents=True, exist_ok=True)
    cfg_file, oas_file = folder / "pygeoapi-config.yml", folder / "openapi.yml"
    public = {**config, "resources": {}}  # the import-time API never serves a request
    _write_private(cfg_file, yaml.safe_dump(public, allow_unicode=True, sort_keys=False))
    if not oas_file.exists():
        _write_private(oas_file, "openapi: 3.0.2\ninfo: {title: Lạng Sơn SDI, version: '0'}\npaths: {}\n")
    os.environ["PYGEOAPI_CONFIG"], os.environ["PYGEOAPI_OPENAPI"] = str(cfg_file), str(oas_file)
    import pygeoapi.starlette_app as pga

    _install_view_executor(pga)
    return pga.APP


def _write_private(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(content, encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)  # atomic: several servers (tests) may start at once


_installed = False
_current = threading.local()


def _clear_config_cache() -> None:
    from pygeoapi import l10n

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
    import pygeoapi.api as core_api

    async def execute_for_view(api_function: Callable, request: Request, *args: Any,
                               skip_valid_check: bool = False, alternative_api: Any = None) -> Response:
        view: View | None = request.scope.get("sdi.view")
        if view is None:  # not through the gateway: nothing is served
            return problem(404, "Không tìm thấy / Not found", "", request.url.path)
        who: Principal = request.scope["sdi.principal"]
        if api_function is core_api.openapi_:
            await asyncio.to_thread(view.ensure_openapi)

        def in_worker(api: Any, api_request: Any, *a: Any) -> Any:
            runtime.set_caller(who.label)
            _current.view = id(view)
            return api_function(api, api_request, *a)

        try:
            response = await original(in_worker, request, *args, skip_valid_check=skip_valid_check,
                                      alternative_api=view.api)
        except Exception:  # noqa: BLE001 - a failure inside pygeoapi: log it, tell no details
            logger.exception("pygeoapi failed on %s", request.url.path)
            return problem(500, _TITLES[500], "Lỗi phía máy chủ / server error; see the server log",
                           request.url.path)
        return _fix_response(response, request, args)

    pga.execute_from_starlette = execute_for_view
    from pygeoapi import l10n

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
    from pygeoapi.api import itemtypes

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
                detail = "Lỗi phía máy chủ / server error; see the server log"
        return problem(status, _TITLES.get(status, "Lỗi / Error"), detail, path, code=code)
    if status == 200 and "json" in ctype and re.search(r"/collections/[^/]+/(queryables|schema)$", path):
        return _declare_geometry(response, path)
    if status < 300 and "/items" in path and ctype.startswith("application/json") and \
            request.query_params.get("f", "json") in ("json", "geojson"):
        response.headers["content-type"] = "application/geo+json"
    return response


#: Features Part 5 geometry formats of the catalogue's geometry types
_GEOMETRY_FORMATS: dict[tuple[str, ...], str] = {
    ("POINT",): "geometry-point", ("MULTIPOLYGON",): "geometry-multipolygon",
    ("MULTILINESTRING",): "geometry-multilinestring"}


def _declare_geometry(response: Response, path: str) -> Response:
    """Queryables and schemas say ``geometry-any`` for every layer; say the stored type, so a
    client knows it even for an empty collection, and drop the geometry of tables."""
    layer_id = path.rstrip("/").split("/")[-2]
    layer = runtime.catalog().get(layer_id)
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


_TITLES = {400: "Yêu cầu không hợp lệ / Bad request", 401: "Cần đăng nhập / Authentication required",
           403: "Không có quyền / Forbidden", 404: "Không tìm thấy / Not found",
           405: "Không cho phép / Method not allowed", 409: "Xung đột / Conflict",
           422: "Dữ liệu không đạt kiểm tra / Unprocessable feature",
           413: "Yêu cầu quá lớn / Request too large", 500: "Lỗi hệ thống / Internal error",
           501: "Chưa hỗ trợ / Not implemented"}

