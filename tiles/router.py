"""The raster routes under ``/rasters``, assembled from TiTiler's factories.

Per item (``/rasters/{item_id}``), ``titiler.core``'s ``TilerFactory``: ``/tiles/{tms}/{z}/{x}/{y}[.png|.webp|
.jpg|.tif|.npy]``, ``/{tms}/tilejson.json``, ``/tiles``, ``/tiles/{tms}`` (OGC tilesets), ``/info``,
``/statistics`` (GET; POST with GeoJSON), ``/point/{lon},{lat}``, ``/preview[.fmt]``,
``/bbox/…``, ``POST /feature[.fmt]`` (crop by a GeoJSON feature), ``/{tms}/map.html``; the
WMTS capabilities of ``titiler.extensions`` (``/WMTSCapabilities.xml``); ``/cog.tif``.

Per collection (``/rasters/collections/{collection_id}/mosaic``), ``titiler.mosaic``'s
``MosaicTilerFactory`` over the ready items of ``?datetime=`` (``tiles.mosaic``).

What is ours: the item/collection dependencies (database + access rule, never a caller's path),
the band and expression checks, the size caps, the index presets, the route class (errors as
problem+json, audit) and public URLs in TileJSON/WMTS (``SDI_PUBLIC_URL`` behind a proxy).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import APIRouter, Depends, Request
from morecantile import tms as default_tms
from morecantile.defaults import TileMatrixSets
from starlette.templating import Jinja2Templates
from titiler.core.dependencies import (
    BidxExprParams,
    ColorMapParams,
    DatasetParams,
    ImageRenderingParams,
    TileParams,
)
from titiler.core.factory import AlgorithmFactory, ColorMapFactory, TilerFactory
from titiler.extensions.wmts import wmtsExtension
from titiler.mosaic.extensions.wmts import wmtsExtension as mosaicWmtsExtension
from titiler.mosaic.factory import MosaicTilerFactory

from tiles import cog, mosaic, params
from tiles.algorithms import algorithms
from tiles.reader import ItemReader
from tiles.routing import RasterRoute

PREFIX = "/rasters"
ITEM_PREFIX = PREFIX + "/{item_id}"
MOSAIC_PREFIX = PREFIX + "/collections/{collection_id}/mosaic"
TEMPLATES = Jinja2Templates(directory=str(__import__("pathlib").Path(__file__).with_name("templates")))

#: Web Mercator for web maps and QGIS; CRS84 for clients that want degrees.
SUPPORTED_TMS = TileMatrixSets({name: default_tms.get(name) for name in ("WebMercatorQuad", "WorldCRS84Quad")})

#: The query parameters a WMTS tile URL may carry (TiTiler checks a layer's parameters with these).
WMTS_TILE_PARAMS = [BidxExprParams, DatasetParams, TileParams, algorithms.dependency, ColorMapParams,
                    ImageRenderingParams]


def _public(url: str, request: Request) -> str:
    """``url`` on the address clients use (``SDI_PUBLIC_URL``) instead of the one the request came to."""
    base = str(request.base_url)
    public = request.app.state.settings.link_base(base) + "/"
    return public + url[len(base):] if url.startswith(base) else url


class ItemTiler(TilerFactory):
    def url_for(self, request: Request, name: str, **path_params: Any) -> str:
        return _public(super().url_for(request, name, **path_params), request)


class CollectionMosaicTiler(MosaicTilerFactory):
    def url_for(self, request: Request, name: str, **path_params: Any) -> str:
        return _public(super().url_for(request, name, **path_params), request)


class PublicAlgorithms(AlgorithmFactory):
    def url_for(self, request: Request, name: str, **path_params: Any) -> str:
        return _public(super().url_for(request, name, **path_params), request)


class PublicColorMaps(ColorMapFactory):
    def url_for(self, request: Request, name: str, **path_params: Any) -> str:
        return _public(super().url_for(request, name, **path_params), request)


def _router() -> APIRouter:
    return APIRouter(route_class=RasterRoute, dependencies=[Depends(params.guard)])


def build_router() -> APIRouter:
    """Every raster route, ready for ``app.include_router``."""
    shared: dict[str, Any] = dict(
        process_dependency=algorithms.dependency, colormap_dependency=params.colormap_params,
        render_dependency=params.render_params, environment_dependency=params.gdal_env,
        img_part_dependency=params.PartParams, supported_tms=SUPPORTED_TMS, add_viewer=True,
    )
    items = ItemTiler(
        router=_router(), router_prefix=ITEM_PREFIX, path_dependency=params.item_path, reader=ItemReader,
        layer_dependency=params.item_layer,  # type: ignore[arg-type]  # any callable dependency
        extensions=[wmtsExtension(templates=TEMPLATES, tile_dependencies=WMTS_TILE_PARAMS,
                                  layer_identifier_provider=lambda path: path.ref.id)],
        **shared,
    )
    for method in ("GET", "HEAD"):
        items.router.add_api_route("/cog.tif", cog.cog_file, methods=[method], name="cog_file",
                                   operation_id=f"{method.lower()}COG", include_in_schema=method == "GET",
                                   summary="Tệp COG / the COG file (HTTP Range)", response_class=cog.Response)
    mosaics = CollectionMosaicTiler(
        router=_router(), router_prefix=MOSAIC_PREFIX, backend=mosaic.DateMosaicBackend, dataset_reader=ItemReader,
        path_dependency=mosaic.mosaic_source, layer_dependency=mosaic.mosaic_layer,  # type: ignore[arg-type]
        add_part=True,
        add_statistics=True,
        extensions=[mosaicWmtsExtension(templates=TEMPLATES, tile_dependencies=WMTS_TILE_PARAMS,
                                        layer_identifier_provider=str)],
        **shared,
    )
    router = APIRouter()
    tag: list[str | Enum] = ["Ảnh raster / Raster tiles"]
    router.include_router(mosaics.router, prefix=MOSAIC_PREFIX, tags=tag)
    for factory in (PublicAlgorithms(supported_algorithm=algorithms, router=_router(), router_prefix=PREFIX),
                    PublicColorMaps(router=_router(), router_prefix=PREFIX)):
        router.include_router(factory.router, prefix=PREFIX, tags=tag)
    router.include_router(items.router, prefix=ITEM_PREFIX, tags=tag)
    return router


router = build_router()
