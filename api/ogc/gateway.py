"""The OGC API at ``/ogc``: pygeoapi behind one door that applies the access rule.

Every request passes through ``OGCGateway``:

1. the caller is identified by the application's door (``sdi.callers.Door``: the same keys,
   cache and revocation as every other route);
2. the door's catalogue gives the layers the caller may see and edit (``sdi.access``);
3. the request is served by the pygeoapi ``API`` built for exactly that set of layers
   (``api.ogc.pygeoapi_app``), so a layer the caller may not see is absent from every list,
   document and link, and any path naming it answers 404, as an unknown layer does;
4. writes need a key of the owning agency; reads of restricted layers and all writes go
   to the audit log.

Views are rebuilt when the door reports a catalogue change, so a new or re-classified layer
is served without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import OrderedDict

from pygeoapi.api import API
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from api.ogc import asgi, context, pygeoapi_app
from api.ogc.config import CATALOGUE_ID, OGC_PATH, pygeoapi_config
from api.ogc.pygeoapi_app import View
from api.ogc.tilejson import tilejson
from layers.catalog import Layer
from sdi import problems
from sdi.access import Principal, can_edit, may_run_processes
from sdi.callers import Door
from sdi.errors import InvalidCredentialsError
from sdi.models import AccessLogEntry
from sdi.settings import Settings

logger = logging.getLogger(__name__)

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: views kept per (layers seen, layers editable, link base): the base comes from the request's ``Host``,
#: which a client chooses, so the cache is bounded (least recently used dropped)
MAX_VIEWS = 64
_COLLECTION = re.compile(r"^/collections/([^/]+)(/.*)?$")
problem = problems.problem_at  # the gateway answers from ASGI scopes: problems name their path


class OGCGateway:
    """ASGI app: access control in front of pygeoapi's Starlette app (mounted at ``/ogc``)."""

    def __init__(self, settings: Settings, engine: Engine, door: Door[Layer]) -> None:
        self.settings, self.engine, self.door = settings, engine, door
        self._views: OrderedDict[tuple[frozenset[str], frozenset[str], str], View] = OrderedDict()
        self._lock = threading.Lock()
        self.services = context.Services(engine, settings, {})
        door.on_change(self._catalog_changed)
        self.app = pygeoapi_app.starlette_app(settings, pygeoapi_config(self.services.catalog, settings,
                                                                        self.database, (), ()))

    @property
    def database(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    def _catalog_changed(self, catalog: dict[str, Layer]) -> None:
        with self._lock:
            self._views = OrderedDict()
            self.services = context.Services(self.engine, self.settings, catalog)
        pygeoapi_app.clear_config_cache()

    def view_for(self, who: Principal, base: str | None = None) -> View:
        """The pygeoapi API for what ``who`` may see and edit, writing its links under ``base`` (the
        address the request came to, see ``Settings.link_base``; default: ``Settings.base_url``).

        pygeoapi writes every link from its configured ``server.url``, read once when its ``API`` is
        built; an API per base (not a per-request change of a shared one, which threads would race on)
        makes its links name the address the client used, as the FastAPI routes do."""
        self.door.refresh()
        services = self.services
        catalog = services.catalog
        seen = frozenset(self.door.visible_layers(who))
        edits = frozenset(i for i in seen if can_edit(catalog[i], who))
        base = (base or self.settings.base_url).rstrip("/")
        key = (seen, edits, base)
        with self._lock:
            view = self._views.get(key)
            if view is not None:
                self._views.move_to_end(key)
                return view
        settings = self.settings if base == self.settings.base_url else self.settings.model_copy(
            update={"public_url": base})
        config = pygeoapi_config(catalog, settings, self.database, seen, edits)
        view = View(api=API(config, {}, {}), config=config, visible=seen, editable=edits)
        with self._lock:
            view = self._views.setdefault(key, view)
            while len(self._views) > MAX_VIEWS:
                self._views.popitem(last=False)
        return view

    # --- the door ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = scope["path"][len(scope.get("root_path", "")):] if scope["path"].startswith(
            scope.get("root_path", "")) else scope["path"]
        try:
            who = await self.door.identify(request)
        except InvalidCredentialsError as exc:
            await problems.answer(exc, scope["path"])(scope, receive, send)
            return
        view = await asyncio.to_thread(self.view_for, who, self.settings.link_base(str(request.base_url)))
        match = _COLLECTION.match(path)
        collection = match.group(1) if match else None
        if collection is not None and collection != CATALOGUE_ID and collection not in view.visible:
            await problem(404, problems.TITLES[404], f"Không có lớp dữ liệu / no collection {collection!r}",
                          scope["path"])(scope, receive, send)
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
            body = await asgi.read_body(receive, self.settings.ogc_max_body_bytes)
            if body is None:  # counted as it streams in: a missing or false Content-Length changes nothing
                await problem(413, problems.TITLES[413], f"Tối đa / at most {self.settings.ogc_max_body_bytes} bytes",
                              scope["path"])(scope, receive, send)
                return
            receive = asgi.replay(body)
        services = self.services
        scope["sdi.view"], scope["sdi.principal"], scope["sdi.services"] = view, who, services
        scope, receive = asgi.cql2_json_in_query(scope, receive)
        audited = collection is not None and collection in services.catalog and (
            method in WRITE_METHODS or services.catalog[collection].access_level == "restricted")
        if not audited:
            await self.app(scope, receive, send)
            return

        assert collection is not None  # audited: a collection was named

        async def send_and_audit(message: Message) -> None:
            # written before the response starts: no restricted data leaves without its log entry
            if message["type"] == "http.response.start":
                await asyncio.to_thread(self._audit, who, collection, method, scope, message["status"])
                message = {**message, "headers": _location_capitalised(message.get("headers", []))}
            await send(message)

        await self.app(scope, receive, send_and_audit)

    def _tilejson(self, collection: str, request: Request) -> Response:
        layer = self.services.catalog.get(collection)
        if layer is None or not layer.has_geometry:
            return problem(404, problems.TITLES[404], f"Lớp không có ô bản đồ / no tiles for {collection!r}",
                           request.url.path)
        lang = "en" if request.query_params.get("lang", "vi").startswith("en") else "vi"
        # the tiles at the address the request came to (OGC_PATH: the gateway is mounted there)
        return JSONResponse(tilejson(layer, self.settings.link_base(str(request.base_url)) + OGC_PATH, lang))

    def _write_denied(self, who: Principal, view: View, collection: str | None, path: str,
                      scope: Scope) -> Response | None:
        if re.match(r"^/(processes/[^/]+/execution|jobs/[^/]+)$", path):
            return _process_denied(who, scope)
        if collection is None or not re.match(r"^/collections/[^/]+/items(/[^/]+)?$", path):
            return problem(405, problems.TITLES[405],
                           "Chỉ đối tượng của lớp mới sửa được qua API / only collection items can be written",
                           scope["path"])
        if who.anonymous:
            return problem(401, problems.TITLES[401],
                           "Sửa dữ liệu cần khoá API của cơ quan chủ quản / editing needs a key of the owning "
                           "agency", scope["path"])
        if collection not in view.editable:
            return problem(403, problems.TITLES[403],
                           f"Chỉ cơ quan chủ quản mới sửa được lớp / only the owning agency may edit {collection!r}",
                           scope["path"])
        return None

    def _audit(self, who: Principal, layer_id: str, method: str, scope: Scope, status: int) -> None:
        qs = scope.get("query_string", b"").decode(errors="replace")
        entry = AccessLogEntry(key_id=who.key_id, key_name=who.name, layer_id=layer_id,
                               action="write" if method in WRITE_METHODS else "read", method=method,
                               path=scope["path"] + (f"?{qs}" if qs else ""), status=status)
        with Session(self.engine) as session:
            session.add(entry)
            session.commit()


def _location_capitalised(headers: list) -> list:
    """``Location`` spelt with a capital L. Header names are case-insensitive, but QGIS up to 3.40.6 (Debian
    13's LTR) looks for exactly ``Location`` in a Part 4 create's 201 and otherwise reports the created feature
    as failed (qgis/QGIS#61729, fixed upstream in May 2025 by qgis/QGIS#61814); ``sdi serve`` runs uvicorn's
    h11, which keeps the case an application gives."""
    return [(b"Location" if name.lower() == b"location" else name, value) for name, value in headers]


def _process_denied(who: Principal, scope: Scope) -> Response | None:
    """Executing a process (forest change) or reading its jobs needs a key of the rangers or an admin."""
    if who.anonymous:
        return problem(401, problems.TITLES[401],
                       "Chạy tiến trình cần khoá API của Chi cục Kiểm lâm / executing a process needs a key of the "
                       "Forest Protection Sub-department (kiemlam)", scope["path"])
    if not may_run_processes(who):
        return problem(403, problems.TITLES[403],
                       "Chỉ kiểm lâm hoặc quản trị mới chạy được tiến trình / only rangers (kiemlam) or admins may "
                       "execute processes", scope["path"])
    return None
