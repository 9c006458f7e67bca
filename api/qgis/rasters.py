"""The raster layers of the project: every ready raster item the caller may see as XYZ layers of
``/rasters/{item}/tiles/WebMercatorQuad``, one per rendering (RGB flights also as VARI,
multispectral ones and Sentinel-2 scenes as NDVI, see ``tiles``); each layer's abstract gives
its WMTS capabilities and COG addresses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from api.qgis.auth import auth_note
from rasters.items import RasterRef

#: The layer-tree group of the raster layers, the bottom one.
RASTERS = "Ảnh raster – UAV, vệ tinh, DEM / Rasters – UAV, satellite, DEM"


@dataclass(frozen=True)
class RasterEntry:
    """One XYZ raster layer of an item (a rendering of it: natural colours, NDVI, VARI, …)."""

    id: str
    name: str
    source: str
    abstract: str
    checked: bool


#: How each kind of collection is drawn: (id suffix, label, tile query, switched on).
RASTER_RENDERINGS: dict[str, list[tuple[str, str, dict[str, str], bool]]] = {
    "rgb": [("", "màu thực / true colour", {}, True),
            ("vari", "VARI – thực vật / vegetation", {"algorithm": "vari"}, False)],
    "multispectral": [("ndvi", "NDVI", {"algorithm": "ndvi"}, True),
                      ("", "màu thực / true colour", {}, False)],
    "sentinel2": [("ndvi", "NDVI", {"algorithm": "ndvi"}, True),
                  ("", "màu thực / true colour", {}, False)],
    "dem": [("", "độ cao / elevation", {"bidx": "1", "rescale": "0,1600", "colormap_name": "terrain"}, True)],
    "categorical": [("", "phân loại / classes", {"bidx": "1"}, True)],
}


def raster_plan(ref: RasterRef, base_url: str, authcfg: str | None) -> list[RasterEntry]:
    """The XYZ layers of one raster item."""
    item_url = f"{base_url.rstrip('/')}/rasters/{ref.id}"
    coll = ref.collection
    when = ref.datetime.strftime("%Y-%m-%d")
    links = (f"WMTS: {item_url}/WMTSCapabilities.xml — COG (GDAL /vsicurl/, HTTP Range): {item_url}/cog.tif — "
             f"TileJSON: {item_url}/WebMercatorQuad/tilejson.json")
    out = []
    for suffix, label, query, checked in RASTER_RENDERINGS.get(coll.kind, RASTER_RENDERINGS["categorical"]):
        tiles = f"{item_url}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png" + (f"?{urlencode(query)}" if query else "")
        lines = [f"{coll.title_vi} / {coll.title_en}: {ref.id}, {when}, {label}.",
                 f"Độ phân giải / GSD: {ref.gsd_m} m. Nền tảng / platform: {ref.platform or '—'}.", links]
        if authcfg:
            lines.append(auth_note(authcfg))
        out.append(RasterEntry(id=f"raster_{ref.id}" + (f"_{suffix}" if suffix else ""),
                               name=f"{coll.title_vi} {when} · {label} ({ref.id})",
                               source=xyz_raster_uri(tiles, _max_zoom(ref), authcfg), abstract="\n\n".join(lines),
                               checked=checked))
    return out


def _max_zoom(ref: RasterRef) -> int:
    """The Web Mercator zoom of the item's pixel size (a 10 cm flight: 21), so QGIS asks for no
    finer tiles than the data has."""
    if not ref.gsd_m or ref.gsd_m <= 0:
        return 22
    lat = (ref.bbox[1] + ref.bbox[3]) / 2 if ref.bbox else 22.0
    zoom = math.log2(156543.03392 * math.cos(math.radians(lat)) / ref.gsd_m)
    return max(0, min(24, math.ceil(zoom)))


def xyz_raster_uri(url: str, zmax: int, authcfg: str | None) -> str:
    """The XYZ raster source of QGIS's ``wms`` provider (the URL percent-encoded, as QGIS writes it)."""
    source = f"type=xyz&url={quote(url, safe=':/{}')}&zmin=0&zmax={zmax}"
    return source + (f"&authcfg={authcfg}" if authcfg else "")
