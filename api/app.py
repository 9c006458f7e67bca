"""The FastAPI application: ``uvicorn --factory api.app:create_app``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES

from api.agencies import router as agencies_router
from api.change_reports import router as change_reports_router
from api.harvest import router as harvest_router
from api.layers import router as layers_router
from api.ogc.config import OGC_PATH
from api.ogc.lazy import LazyGateway
from api.ops import router as ops_router
from api.qgis import router as qgis_router
from api.stac import router as stac_router
from api.stac_collections import router as stac_collections_router
from api.webmap import router as webmap_router
from layers.catalog import get_layer, load_catalog
from rasters.items import forget_items
from sdi import logs, metrics, problems
from sdi.callers import Door, VisibleCatalog
from sdi.database import make_engine
from sdi.notify import ChangeListener
from sdi.ratelimit import RateLimits
from sdi.settings import Settings
from tiles.router import router as raster_router

logger = logging.getLogger(__name__)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; the lifespan opens the database and loads the catalogue."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings, statement_timeout_ms=settings.statement_timeout_ms)
        app.state.engine = engine
        app.state.settings = settings
        app.state.door = Door(engine, load_catalog)  # who is calling, and the catalogue, for every route
        gateway.bind(settings, engine, app.state.door)
        # other replicas' changes (revocations, catalogue, raster items) seen at once, not within a second
        listener = ChangeListener(engine)
        app.state.door.listen(listener)
        listener.on("raster_items", forget_items)
        listener.on("raster_collections", forget_items)
        app.state.changes = listener.start()
        metrics.watch_pool(engine)
        try:
            yield
        finally:
            listener.stop()
            metrics.unwatch_pool(engine)
            engine.dispose()
            metrics.process_exit()

    app = FastAPI(
        title="Hạ tầng dữ liệu không gian tỉnh Lạng Sơn / Lạng Sơn SDI",
        version="0.1.0", lifespan=lifespan,
        description="Nền tảng dữ liệu không gian dùng chung / the province's shared spatial data platform",
    )
    app.add_middleware(GZipMiddleware, minimum_size=1024,  # COGs are compressed and read by byte ranges
                       exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "image/tiff"))
    app.add_middleware(RateLimits, settings=settings)  # anonymous callers, per route family: 429 + Retry-After
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"],
                       expose_headers=["*"])
    app.add_middleware(metrics.Metrics)  # outside CORS and gzip: every answer is counted
    # outermost: the request id is set before anything logs, and returned on every answer
    app.add_middleware(CorrelationIdMiddleware, header_name=logs.HEADER, validator=logs.valid_request_id)
    gateway = LazyGateway()
    app.state.ogc = gateway  # .gateway: the OGCGateway (pygeoapi's views and services), bound at start-up
    app.mount(OGC_PATH, gateway, name="ogc")
    problems.install(app)
    _routes(app)
    app.include_router(ops_router)  # /health, /ready, /metrics
    app.include_router(layers_router)  # POST /layers (publishing)
    app.include_router(harvest_router)  # /harvest/sources (admins)
    app.include_router(agencies_router)  # GET /agencies (the upload form's sharing list)
    app.include_router(qgis_router)
    app.include_router(stac_router)
    app.include_router(stac_collections_router)  # POST /stac/collections
    app.include_router(raster_router)
    app.include_router(change_reports_router)  # forest change reports at /change/reports
    app.include_router(webmap_router)  # the web map at /
    return app


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def _routes(app: FastAPI) -> None:
    @app.get("/catalogue", response_class=HTMLResponse, include_in_schema=False)
    def landing(request: Request, catalog: VisibleCatalog) -> HTMLResponse:
        """Danh mục lớp / the layer table (the web map is at /)."""
        return templates.TemplateResponse(request, "landing.html", {"layers": catalog.values()})

    @app.get("/layers")
    def layers(catalog: VisibleCatalog) -> list[dict]:
        """Danh mục lớp / the layer catalogue (the layers the caller may see)."""
        return [layer.model_dump(mode="json", exclude={"aliases", "required"}) for layer in catalog.values()]

    @app.get("/layers/{layer_id}")
    def layer(layer_id: str, catalog: VisibleCatalog) -> dict:
        """Một lớp / one layer's metadata."""
        return get_layer(catalog, layer_id).model_dump(mode="json", exclude={"aliases", "required"})
