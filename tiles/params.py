"""FastAPI dependencies of the raster routes: who asks, which item, which bands, how drawn.

TiTiler's factories take these in place of their defaults: ``path_dependency`` resolves an
item id through the database and the access rule (TiTiler's default takes ``?url=``, any file
or URL: never used here), ``layer_dependency`` checks bands and expressions against the item
before anything is read (rio-tiler would answer an unknown ``b9`` with an IndexError, a 500),
and the size parameters are capped (TiTiler leaves ``tilesize``, ``width``, ``height`` and
``max_size`` unbounded: one request could ask for a 100,000² pixel image).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from rio_tiler.colormap import cmap
from rio_tiler.errors import InvalidExpression
from rio_tiler.expression import parse_expression
from titiler.core.dependencies import BidxExprParams, ColorMapParams, ImageRenderingParams
from titiler.core.dependencies import PartFeatureParams as _PartFeatureParams

from rasters import bands, environment, items
from rasters.items import ITEM_ID_PATTERN, RasterRef
from sdi.access import visible
from sdi.callers import caller
from sdi.database import translate_db_errors
from sdi.errors import InvalidInputError, NotFoundError
from tiles.algorithms import PRESETS, Preset

#: Largest tile edge, image edge and query ``max_size`` a caller may ask for (pixels).
MAX_TILESIZE = 1024
MAX_IMAGE_SIZE = 4096
MAX_BUFFER = 64
#: Crops (``/bbox``, ``/feature``) without a size are read at most this large, not at full resolution.
DEFAULT_PART_SIZE = 2048

#: Query parameters that name a file or URL in TiTiler or GDAL: refused on every raster route.
FORBIDDEN_PARAMS = ("url", "path", "src", "src_path", "file", "filename", "href")


def _not_found(item_id: str) -> NotFoundError:
    return NotFoundError(f"Không có ảnh / no raster item {item_id!r}")


async def raster_item(request: Request, item_id: Annotated[str, Path(pattern=ITEM_ID_PATTERN, max_length=127,
                                                                      description="Mã ảnh / raster item id")]
                      ) -> RasterRef:
    """The ready item ``item_id`` of a collection the caller may see; 404 otherwise (hidden and
    unknown items are indistinguishable)."""
    who = await caller(request)
    app = request.app.state
    try:
        ref = items.cached_item(app.engine, app.settings, item_id)  # read within the last second
        if ref is not None:
            ref = ref if visible(ref.collection, who) else None
        else:
            with translate_db_errors():
                ref = await asyncio.to_thread(items.find_item, app.engine, app.settings, item_id, who)
    except items.OutsideStoreError as exc:
        raise _not_found(item_id) from exc
    if ref is None:
        raise _not_found(item_id)
    request.state.raster_collection = ref.collection
    return ref


class StoredPath(str):
    """The COG location handed to the reader, carrying its item (so a WMTS layer is named by the
    item id, never by the file path)."""

    ref: RasterRef

    def __new__(cls, ref: RasterRef) -> StoredPath:
        obj = super().__new__(cls, ref.location)
        obj.ref = ref
        return obj


def item_path(ref: Annotated[RasterRef, Depends(raster_item)]) -> StoredPath:
    """TiTiler's ``path_dependency``: the item's COG, from the database."""
    return StoredPath(ref)


def gdal_env(request: Request) -> dict:
    """TiTiler's ``environment_dependency``: what GDAL needs to read the store (S3 settings)."""
    return environment.gdal_env(request.app.state.settings)


def guard(request: Request) -> None:
    """Refuse file/URL parameters and oversized requests on every raster route (400)."""
    query = request.query_params
    for name in FORBIDDEN_PARAMS:
        if name in query:
            raise InvalidInputError(
                f"Tham số {name!r} không được hỗ trợ: ảnh chỉ được chọn theo mã / the {name!r} parameter is not "
                "supported: rasters are chosen by id, never by URL or path")
    limits = {"tilesize": MAX_TILESIZE, "width": MAX_IMAGE_SIZE, "height": MAX_IMAGE_SIZE,
              "max_size": MAX_IMAGE_SIZE, "buffer": MAX_BUFFER, "padding": MAX_BUFFER}
    for name, limit in limits.items():
        value = query.get(name, request.path_params.get(name))
        if value is None:
            continue
        try:
            number = float(value)
        except ValueError:
            continue  # the parameter's own validation answers
        if number > limit:
            raise InvalidInputError(f"{name} tối đa / at most {limit}")
        if number < 0 or (number == 0 and name in ("tilesize", "width", "height", "max_size")):
            raise InvalidInputError(f"{name} phải dương / must be positive, got {value}")


# --- bands, expressions, presets ------------------------------------------------------------------

def preset_of(request: Request) -> Preset | None:
    return PRESETS.get(request.query_params.get("algorithm", ""))


def check_layer(refs: list[RasterRef], env: dict, preset: Preset | None, indexes: list[int] | None,
                expression: str | None, image: bool = True) -> BidxExprParams:
    """``bidx`` / ``expression`` / preset checked against the item(s); the reader's parameters.

    An image of a raster with more than 4 bands (multispectral, Sentinel-2) and no band choice
    shows its red, green and blue bands (by role; else band 1): no image format takes 5 bands."""
    count = min(bands.band_count(ref, env) for ref in refs)
    if image and count > 4 and not (indexes or expression or preset):
        found = bands.roles(refs[0], env)
        indexes = [found[r] for r in ("red", "green", "blue")] if {"red", "green", "blue"} <= set(found) else [1]
    if indexes and expression:
        raise InvalidInputError("Dùng bidx hoặc expression, không dùng cả hai / use bidx or expression, not both")
    for index in indexes or ():
        if not 1 <= index <= count:
            raise InvalidInputError(f"Không có kênh / no band {index}: ảnh có / the raster has bands 1–{count}")
    if expression:
        if preset is not None:
            raise InvalidInputError("Dùng expression hoặc algorithm chỉ số, không dùng cả hai / use an expression "
                                    "or an index algorithm, not both")
        if len(expression) > 1000:
            raise InvalidInputError("Biểu thức quá dài / expression too long (1000 characters at most)")
        try:
            used = parse_expression(expression)
        except InvalidExpression as exc:
            raise InvalidInputError(f"Biểu thức không hợp lệ / invalid expression: {exc}") from exc
        unknown = sorted(b for b in used if not 1 <= b <= count)
        if unknown:
            raise InvalidInputError(f"Biểu thức dùng kênh không có / the expression uses missing bands "
                                    f"{', '.join(f'b{b}' for b in unknown)}: the raster has b1–b{count}")
    if preset is not None and not indexes:
        indexes = preset_bands(refs[0], env, preset)
    if preset is not None and len(indexes or ()) != len(preset.roles):
        raise InvalidInputError(f"{preset.name} cần {len(preset.roles)} kênh theo thứ tự / needs "
                                f"{len(preset.roles)} bands in order: {', '.join(preset.roles)}")
    return BidxExprParams(indexes=indexes, expression=expression)


def preset_bands(ref: RasterRef, env: dict, preset: Preset) -> list[int]:
    """The bands of ``ref`` a preset reads, by role; a 400 naming what is missing."""
    found = bands.roles(ref, env)
    if ref.collection.kind == "rgb":
        found = {"red": 1, "green": 2, "blue": 3, **found}
    missing = [role for role in preset.roles if role not in found]
    if missing:
        raise InvalidInputError(
            f"Ảnh không có kênh / the raster has no {', '.join(missing)} band for {preset.name}; chọn kênh bằng / "
            f"choose them with bidx in the order {', '.join(preset.roles)}")
    return [found[role] for role in preset.roles]


Bidx = Annotated[list[int] | None, Query(alias="bidx", title="Band indexes",
                                         description="Kênh / band indexes (1-based)")]
Expression = Annotated[str | None, Query(title="Band math expression", description=(
    "Biểu thức kênh / band math, e.g. (b5-b3)/(b5+b3); several outputs separated by ';'"))]


def item_layer(request: Request, ref: Annotated[RasterRef, Depends(raster_item)], bidx: Bidx = None,
               expression: Expression = None) -> BidxExprParams:
    """TiTiler's ``layer_dependency`` for one item."""
    return check_layer([ref], gdal_env(request), preset_of(request), bidx, expression, is_image(request))


def is_image(request: Request) -> bool:
    """Does the route draw an image (not statistics or point values, which take every band)?"""
    path = request.url.path
    return not (path.endswith("/statistics") or "/point/" in path)


def _raw(request: Request) -> bool:
    """Data formats (GeoTIFF, NumPy) carry values: no display range nor colour map is added."""
    return request.path_params.get("format") in ("tif", "tiff", "npy")


def render_params(request: Request, params: Annotated[ImageRenderingParams, Depends(ImageRenderingParams)]
                  ) -> ImageRenderingParams:
    """TiTiler's rendering options; an index preset without ``rescale`` is drawn over its usual range."""
    preset = preset_of(request)
    if preset is not None and not params.rescale and not _raw(request):
        params.rescale = [preset.rescale]  # type: ignore[list-item]
    return params


def colormap_params(request: Request, colormap: Annotated[Any, Depends(ColorMapParams)]) -> Any:
    """TiTiler's colour maps (``colormap_name``, ``colormap``); an index preset defaults to red-yellow-green."""
    preset = preset_of(request)
    if colormap is None and preset is not None and not _raw(request):
        return cmap.get(preset.colormap)
    return colormap


# --- image sizes ------------------------------------------------------------------------------------

@dataclass
class PartParams(_PartFeatureParams):
    """Crop sizes: without one, a crop is read at most DEFAULT_PART_SIZE pixels wide, never at
    full resolution (a crop of a whole 20,000² orthomosaic would be 1.2 GB)."""

    def __post_init__(self) -> None:
        if not (self.width or self.height or self.max_size):
            self.max_size = DEFAULT_PART_SIZE
        super().__post_init__()
