"""A QGIS project of every layer the caller may see: ``GET /qgis/project.qgs``.

The project (``.qgs`` XML, written here without QGIS) opens the layers straight from the
OGC API at ``{base_url}/ogc``:

- every visible collection as an *OGC API – Features* layer (QGIS provider ``OAPIF``),
  named "title_vi / title_en", grouped points over lines over areas, tables (no geometry)
  last; a collection holding points and areas becomes one QGIS layer per kind, filtered by
  ``geometry_type($geometry)``;
- large layers (more features than one QGIS page) also as vector tiles (provider
  ``vectortile``, XYZ from ``/ogc/collections/{id}/tiles/WebMercatorQuad``) in their own
  group; their OAPIF layer is then off by default and fetches only the visible area;
- every ready raster item the caller may see (UAV flights, Sentinel-2 scenes, DEMs) as an XYZ
  raster layer of ``/rasters/{item}/tiles/WebMercatorQuad`` in the bottom group, newest first;
  RGB flights also with a VARI layer (vegetation from plain drones), multispectral ones as NDVI
  (see ``tiles``); each layer's abstract gives its WMTS capabilities and COG addresses;
- project CRS VN-2000 / TM-3 107°15′ (EPSG:9215), opening on the province.

Which layers appear is decided by the gateway (``identify`` + ``visible_layers``), the one
access rule. The file never holds the caller's key: for a caller with a key every layer
refers to a QGIS authentication configuration by id (``langson`` unless ``?authcfg=`` names
another), and the project abstract says how to create it (QGIS 3.22: method *Basic*, the key
as password; QGIS ≥ 3.24 also *API Header* with ``X-API-Key``).
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.ogc.config import OGC_PATH
from layers.catalog import Layer
from rasters.items import RasterRef, visible_items
from sdi.access import Principal
from sdi.callers import Caller, VisibleCatalog

router = APIRouter(tags=["QGIS"])

#: The project CRS (QGIS ≥ 3.20 knows it; the WKT is written too for older ones).
PROJECT_EPSG = 9215
#: Lạng Sơn, lon/lat, when the catalogue has no extent yet.
PROVINCE_BBOX = (106.0, 21.3, 107.4, 22.5)
#: QGIS 3.22 pages OAPIF by 1000 features: a layer needing more than one page gets vector tiles.
TILE_MIN_FEATURES = 1000
#: The authentication configuration the project of a caller with a key refers to.
DEFAULT_AUTHCFG = "langson"
MEDIA_TYPE = "application/x-qgis-project"
QGIS_VERSION = "3.22.0-Białowieża"


@dataclass(frozen=True)
class Kind:
    """A kind of geometry: its group, QGIS names and symbol."""

    key: str  # catalogue geometry
    group: str
    label: str  # suffix of a layer split by geometry
    qgis: str  # geometry_type() value and maplayer "geometry"
    wkb: str
    symbol: str  # QGIS symbol type
    code: int  # QgsWkbTypes::GeometryType


POINT = Kind("POINT", "Điểm / Points", "điểm / points", "Point", "Point", "marker", 0)
LINE = Kind("MULTILINESTRING", "Đường / Lines", "đường / lines", "Line", "MultiLineString", "line", 1)
AREA = Kind("MULTIPOLYGON", "Vùng / Areas", "vùng / areas", "Polygon", "MultiPolygon", "fill", 2)
KINDS = (POINT, LINE, AREA)  # top to bottom: points over lines over areas
TABLES = "Bảng (không có hình học) / Tables (no geometry)"
TILES = "Ô vuông vector – lớp lớn / Vector tiles – large layers"
RASTERS = "Ảnh raster – UAV, vệ tinh, DEM / Rasters – UAV, satellite, DEM"

#: Colours (r,g,b) of the bundled layers; others take the palette in turn.
COLOURS = {
    "border_gates": "200,30,30", "poi_osm": "90,90,90", "pilot_sites": "230,120,0",
    "industrial_parks": "120,60,160", "border_line": "200,30,30", "transport_network": "150,90,40",
    "rivers": "40,110,200", "admin_units": "80,80,80", "border_belt": "200,30,30", "forest_plots": "40,140,60",
}
PALETTE = ("31,120,180", "51,160,44", "227,26,28", "255,127,0", "106,61,154", "177,89,40")
#: Area layers drawn as outlines only (they cover the whole province).
OUTLINE_ONLY = {"admin_units"}


@dataclass(frozen=True)
class Entry:
    """One QGIS layer of the project."""

    id: str
    name: str
    provider: str  # "OAPIF" or "vectortile"
    source: str
    layer: Layer
    kind: Kind | None  # None: a table
    checked: bool = True


# --- the route ---------------------------------------------------------------------------------

AuthCfg = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{7}$", description=(
    "Id cấu hình xác thực QGIS có sẵn / id of an existing QGIS authentication configuration"))]


@router.get("/qgis/project.qgs", response_class=Response,
            responses={200: {"content": {MEDIA_TYPE: {}}, "description": "QGIS project (.qgs)"}})
async def qgis_project(request: Request, who: Caller, layers: VisibleCatalog, authcfg: AuthCfg = None) -> Response:
    """Dự án QGIS / a QGIS project of every layer the caller may see (OGC API – Features, vector tiles)."""
    settings = request.app.state.settings
    rasters = await asyncio.to_thread(visible_items, request.app.state.engine, settings, who)
    auth = None if who.anonymous else (authcfg or DEFAULT_AUTHCFG)
    body = project_xml(layers, settings.base_url, auth, who, rasters)
    return Response(body, media_type=MEDIA_TYPE, headers={
        "Content-Disposition": 'attachment; filename="langson-sdi.qgs"',
        "Cache-Control": "private, no-store", "Vary": "Authorization, X-API-Key",
    })


# --- which layers, in which order ----------------------------------------------------------------

def plan(layers: dict[str, Layer], base_url: str, authcfg: str | None) -> list[tuple[str, list[Entry]]]:
    """The groups of the project, top to bottom, each with its layers top to bottom."""
    ogc = base_url.rstrip("/") + OGC_PATH
    groups: dict[str, list[Entry]] = {kind.group: [] for kind in KINDS}
    groups[TILES], groups[TABLES] = [], []
    for layer in sorted(layers.values(), key=_stacking):
        big = layer.feature_count > TILE_MIN_FEATURES
        if not layer.has_geometry:
            groups[TABLES].append(_feature_entry(layer, None, ogc, authcfg, big=False))
            continue
        kinds = [kind for kind in KINDS if kind.key in layer.geometry]
        for kind in kinds:
            groups[kind.group].append(_feature_entry(layer, kind, ogc, authcfg, big, split=len(kinds) > 1))
        if big:
            groups[TILES].append(_tile_entry(layer, kinds[-1], ogc, authcfg))
    return [(name, entries) for name, entries in groups.items() if entries]


def _stacking(layer: Layer) -> tuple[float, str]:
    """Smaller extents above larger ones, so the province-wide layers lie underneath."""
    ext = layer.extent or PROVINCE_BBOX
    return (ext[2] - ext[0]) * (ext[3] - ext[1]), layer.id


def title(layer: Layer) -> str:
    """A layer's name in QGIS: Vietnamese first, English alongside."""
    return f"{layer.title_vi} / {layer.title_en}"


def _feature_entry(layer: Layer, kind: Kind | None, ogc: str, authcfg: str | None, big: bool,
                   split: bool = False) -> Entry:
    """The OAPIF layer of a collection (one kind of it when ``split``); a large one starts off and
    fetches only the area in view."""
    params = {"url": ogc, "typename": layer.id}
    if split and kind is not None:
        params["filter"] = f"geometry_type($geometry) = '{kind.qgis}'"
    if big:
        params["restrictToRequestBBOX"] = "1"  # only what the map shows, page by page
    name = title(layer) + (f" ({kind.label})" if split and kind else "")
    suffix = kind.qgis.lower() if kind else "table"
    return Entry(id=f"{layer.id}_{suffix}", name=name, provider="OAPIF", source=oapif_uri(params, authcfg),
                 layer=layer, kind=kind, checked=not big)


def _tile_entry(layer: Layer, kind: Kind, ogc: str, authcfg: str | None) -> Entry:
    """The vector-tile layer of a large collection."""
    return Entry(id=f"{layer.id}_tiles", name=f"{title(layer)} (ô vuông vector / vector tiles)",
                 provider="vectortile", source=tile_uri(ogc, layer.id, authcfg), layer=layer, kind=kind)


def oapif_uri(params: dict[str, str], authcfg: str | None) -> str:
    """A QGIS data source URI: ``key='value'`` pairs, quotes and backslashes escaped."""
    parts = [f"{key}='{_quote(value)}'" for key, value in params.items()]
    if authcfg:
        parts.append(f"authcfg={authcfg}")
    return " ".join(parts)


def _quote(value: str) -> str:
    """Escape a value for a single-quoted data source parameter."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def tile_uri(ogc: str, layer_id: str, authcfg: str | None) -> str:
    """The XYZ vector tile source (an encoded query string, as QGIS writes it)."""
    url = f"{ogc}/collections/{layer_id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt"
    source = f"type=xyz&url={quote(url, safe=':/{}?')}&zmin=0&zmax=22"
    return source + (f"&authcfg={authcfg}" if authcfg else "")


# --- the XML -------------------------------------------------------------------------------------

def project_xml(layers: dict[str, Layer], base_url: str, authcfg: str | None, who: Principal,
                rasters: Iterable[RasterRef] = ()) -> bytes:
    """The ``.qgs`` document."""
    groups = plan(layers, base_url, authcfg)
    entries = [entry for _, group in groups for entry in group]
    raster_entries = [r for ref in rasters for r in raster_plan(ref, base_url, authcfg)]
    root = ET.Element("qgis", version=QGIS_VERSION, projectname=project_title(who))
    ET.SubElement(root, "homePath", path="")
    _text(root, "title", project_title(who))
    ET.SubElement(ET.SubElement(root, "projectCrs"), "spatialrefsys").extend(_srs(PROJECT_EPSG))
    tree = _layer_tree(groups)
    if raster_entries:
        tree.append(_raster_group(raster_entries))
    root.append(tree)
    layers_el = ET.SubElement(root, "projectlayers")
    layers_el.extend(_maplayer(entry, authcfg) for entry in entries)
    layers_el.extend(_raster_maplayer(entry) for entry in raster_entries)
    order = ET.SubElement(root, "layerorder")
    for layer_id in [entry.id for entry in entries] + [entry.id for entry in raster_entries]:
        ET.SubElement(order, "layer", id=layer_id)
    root.append(_properties())
    root.append(_metadata(who, base_url, authcfg))
    bbox = province_extent(layers.values())
    root.append(_view_settings(bbox))
    root.append(_map_canvas(bbox))
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def project_title(who: Principal) -> str:
    """The project's title; a caller with a key sees whose project it is (the key's name, not the key)."""
    base = "Hạ tầng dữ liệu không gian tỉnh Lạng Sơn / Lạng Sơn SDI"
    return base if who.anonymous else f"{base} — {who.label}"


def _text(parent: ET.Element, tag: str, text: str, **attrib: str) -> ET.Element:
    """A child element holding ``text``."""
    el = ET.SubElement(parent, tag, attrib)
    el.text = text
    return el


def _layer_tree(groups: list[tuple[str, list[Entry]]]) -> ET.Element:
    """The Layers panel: the groups and layers in drawing order, top first."""
    tree = ET.Element("layer-tree-group")
    for name, entries in groups:
        group = ET.SubElement(tree, "layer-tree-group", name=name, checked="Qt::Checked", expanded="1")
        for entry in entries:
            ET.SubElement(group, "layer-tree-layer", id=entry.id, name=entry.name, providerKey=entry.provider,
                          source=entry.source, checked="Qt::Checked" if entry.checked else "Qt::Unchecked",
                          expanded="0")
    return tree


def _maplayer(entry: Entry, authcfg: str | None) -> ET.Element:
    """One ``<maplayer>``: source, names, metadata, CRS and style."""
    tile = entry.provider == "vectortile"
    if tile:
        el = ET.Element("maplayer", type="vector-tile")
    elif entry.kind is None:
        el = ET.Element("maplayer", type="vector", geometry="No geometry", wkbType="NoGeometry")
    else:
        el = ET.Element("maplayer", type="vector", geometry=entry.kind.qgis, wkbType=entry.kind.wkb)
    _text(el, "id", entry.id)
    _text(el, "datasource", entry.source)
    _text(el, "layername", entry.name)
    _text(el, "title", entry.name)
    _text(el, "abstract", layer_abstract(entry, authcfg))
    keywords = ET.SubElement(el, "keywordList")
    for word in entry.layer.keywords:
        _text(keywords, "value", word)
    ET.SubElement(ET.SubElement(el, "srs"), "spatialrefsys").extend(_srs(3857 if tile else 4326))
    el.append(_resource_metadata(entry, authcfg))
    _text(el, "provider", entry.provider, encoding="UTF-8")
    colour = _colour(entry.layer.id)
    if tile:
        el.append(_tile_renderer(entry, colour))
    elif entry.kind is not None:
        el.append(_renderer(entry, colour))
    return el


def layer_abstract(entry: Entry, authcfg: str | None) -> str:
    """The layer's abstract in QGIS: the catalogue's, licence, agency, and how to use a key."""
    layer = entry.layer
    lines = [layer.abstract_vi, layer.abstract_en,
             f"Giấy phép / licence: {layer.licence}. Nguồn / attribution: {layer.attribution}.",
             f"Cơ quan / agency: {layer.owner_agency} / {layer.owner_agency_en}.",
             f"Số đối tượng / features: {layer.feature_count}."]
    if entry.provider == "OAPIF" and not entry.checked:
        lines.append("Lớp lớn: bật lên chỉ tải phần bản đồ đang xem; nhóm ô vuông vector hiển thị nhanh hơn. / "
                     "Large layer: when switched on it fetches only the area in view; the vector-tile group "
                     "draws faster.")
    if authcfg:
        lines.append(auth_note(authcfg))
    return "\n\n".join(lines)


def _resource_metadata(entry: Entry, authcfg: str | None) -> ET.Element:
    """The layer's metadata (Layer Properties → Metadata)."""
    meta = ET.Element("resourceMetadata")
    _text(meta, "identifier", entry.layer.id)
    _text(meta, "language", "vie")
    _text(meta, "type", "dataset")
    _text(meta, "title", entry.name)
    _text(meta, "abstract", layer_abstract(entry, authcfg))
    keywords = ET.SubElement(meta, "keywords", vocabulary="Lạng Sơn SDI")
    for word in entry.layer.keywords:
        _text(keywords, "keyword", word)
    _text(meta, "rights", entry.layer.attribution)
    _text(meta, "license", entry.layer.licence)
    return meta


def auth_note(authcfg: str) -> str:
    """How to give QGIS the key: an authentication configuration with the id the layers name."""
    return (
        f"CẦN KHOÁ API: tệp này không chứa khoá. Trong QGIS vào Cài đặt → Tùy chọn → Xác thực, bấm +, đặt "
        f"Id = {authcfg}, kiểu Basic: tên người dùng tuỳ ý, mật khẩu là khoá API (QGIS ≥ 3.24 có thể chọn kiểu "
        f"API Header với khoá X-API-Key); rồi mở lại dự án. "
        f"/ API KEY NEEDED: this file holds no key. In QGIS open Settings → Options → Authentication, click +, "
        f"set Id = {authcfg}, method Basic: any user name, the API key as password (QGIS ≥ 3.24 may use the "
        f"API Header method with header X-API-Key instead); then open the project again. To use a "
        f"configuration you already have, download the project with ?authcfg=ITS_ID."
    )


def _properties() -> ET.Element:
    """Project properties: QGIS reads ``projectCrs`` only when projections are enabled."""
    props = ET.Element("properties")
    _text(ET.SubElement(props, "SpatialRefSys"), "ProjectionsEnabled", "1", type="int")
    _text(ET.SubElement(props, "Paths"), "Absolute", "false", type="bool")
    return props


def _metadata(who: Principal, base_url: str, authcfg: str | None) -> ET.Element:
    """The project's metadata (Project → Properties → Metadata)."""
    meta = ET.Element("projectMetadata")
    _text(meta, "identifier", "langson-sdi")
    _text(meta, "language", "vie")
    _text(meta, "type", "dataset")
    _text(meta, "title", project_title(who))
    parts = [
        f"Các lớp dữ liệu của tỉnh Lạng Sơn từ OGC API – Features tại {base_url}{OGC_PATH}: điểm trên đường "
        "trên vùng; lớp lớn có thêm ô vuông vector. / Lạng Sơn's layers from the OGC API – Features at "
        f"{base_url}{OGC_PATH}: points over lines over areas; large layers also as vector tiles.",
    ]
    if authcfg:
        parts.append(auth_note(authcfg))
    else:
        parts.append("Chỉ có lớp công khai; lớp nội bộ và hạn chế cần tải dự án kèm khoá API. / Public layers "
                     "only; internal and restricted layers need the project downloaded with an API key.")
    _text(meta, "abstract", "\n\n".join(parts))
    _text(meta, "author", "Sở Khoa học và Công nghệ tỉnh Lạng Sơn")
    return meta


# --- CRS and extent ------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _srs_fields(epsg: int) -> tuple[tuple[str, str], ...]:
    """What QGIS writes of a CRS, from PROJ (pyproj)."""
    from pyproj import CRS

    crs = CRS.from_epsg(epsg)
    return (("wkt", crs.to_wkt("WKT2_2019")), ("proj4", crs.to_proj4()), ("authid", f"EPSG:{epsg}"),
            ("description", crs.name), ("geographicflag", "true" if crs.is_geographic else "false"))


def _srs(epsg: int) -> list[ET.Element]:
    """The children of a ``<spatialrefsys>`` (QGIS reads the WKT, then the authority id)."""
    out = []
    for tag, value in _srs_fields(epsg):
        el = ET.Element(tag)
        el.text = value
        out.append(el)
    return out


def province_extent(layers: Iterable[Layer]) -> tuple[float, float, float, float]:
    """The union of the layers' extents (lon/lat), or the province when none has one."""
    extents = [layer.extent for layer in layers if layer.extent]
    if not extents:
        return PROVINCE_BBOX
    return (min(e[0] for e in extents), min(e[1] for e in extents),
            max(e[2] for e in extents), max(e[3] for e in extents))


def _projected(bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A lon/lat box in the project CRS."""
    from pyproj import Transformer

    transformer = Transformer.from_crs(4326, PROJECT_EPSG, always_xy=True)
    return tuple(round(v, 1) for v in transformer.transform_bounds(*bbox))  # type: ignore[return-value]


def _view_settings(bbox: tuple[float, float, float, float]) -> ET.Element:
    """The default view and full extent: the province, in the project CRS."""
    view = ET.Element("ProjectViewSettings", UseProjectScales="0", rotation="0")
    xmin, ymin, xmax, ymax = _projected(bbox)
    for tag in ("DefaultViewExtent", "PresetFullExtent"):
        ext = ET.SubElement(view, tag, xmin=str(xmin), ymin=str(ymin), xmax=str(xmax), ymax=str(ymax))
        ET.SubElement(ext, "spatialrefsys").extend(_srs(PROJECT_EPSG))
    return view


def _map_canvas(bbox: tuple[float, float, float, float]) -> ET.Element:
    """The map canvas QGIS Desktop opens on."""
    canvas = ET.Element("mapcanvas", name="theMapCanvas", annotationsVisible="1")
    _text(canvas, "units", "meters")
    extent = ET.SubElement(canvas, "extent")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), _projected(bbox), strict=True):
        _text(extent, tag, str(value))
    _text(canvas, "rotation", "0")
    ET.SubElement(ET.SubElement(canvas, "destinationsrs"), "spatialrefsys").extend(_srs(PROJECT_EPSG))
    return canvas


# --- styles --------------------------------------------------------------------------------------

def _colour(layer_id: str) -> str:
    """The layer's colour: its own, or one of the palette chosen by its id."""
    return COLOURS.get(layer_id) or PALETTE[sum(map(ord, layer_id)) % len(PALETTE)]


def _symbol_layer(kind: Kind, colour: str, layer_id: str) -> ET.Element:
    """A simple marker, line or fill in the layer's colour."""
    if kind is POINT:
        props = {"name": "star" if layer_id == "border_gates" else "circle", "color": f"{colour},255",
                 "outline_color": "255,255,255,255", "size": "3.4" if layer_id == "border_gates" else "2.4"}
        return _layer_el("SimpleMarker", props)
    if kind is LINE:
        props = {"line_color": f"{colour},255", "line_width": "0.7" if layer_id == "border_line" else "0.5",
                 "line_style": "dash" if layer_id == "border_line" else "solid"}
        return _layer_el("SimpleLine", props)
    outline = layer_id in OUTLINE_ONLY
    props = {"color": f"{colour},{0 if outline else 70}", "style": "no" if outline else "solid",
             "outline_color": f"{colour},255", "outline_width": "0.4"}
    return _layer_el("SimpleFill", props)


def _layer_el(cls: str, props: dict[str, str]) -> ET.Element:
    """A ``<layer>`` of a symbol, properties written both ways QGIS reads (Option map, prop)."""
    el = ET.Element("layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
    options = ET.SubElement(el, "Option", type="Map")
    for key, value in props.items():
        ET.SubElement(options, "Option", name=key, value=value, type="QString")
    for key, value in props.items():
        ET.SubElement(el, "prop", k=key, v=value)
    return el


def _symbol(kind: Kind, colour: str, layer_id: str, name: str = "0") -> ET.Element:
    """A symbol of ``kind`` in the layer's colour."""
    symbol = ET.Element("symbol", type=kind.symbol, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    symbol.append(_symbol_layer(kind, colour, layer_id))
    return symbol


def _renderer(entry: Entry, colour: str) -> ET.Element:
    """A single symbol of the entry's kind. QGIS types an OAPIF layer from its first items, so
    one kind of a mixed collection may be typed as the other; QGIS draws each feature by its
    own geometry, so a fill symbol still draws the areas of a layer typed as points."""
    assert entry.kind is not None
    renderer = ET.Element("renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0",
                          forceraster="0", referencescale="-1")
    ET.SubElement(renderer, "symbols").append(_symbol(entry.kind, colour, entry.layer.id))
    return renderer


def _tile_renderer(entry: Entry, colour: str) -> ET.Element:
    """A basic vector-tile style: one rule per geometry kind of the layer."""
    renderer = ET.Element("renderer", type="basic")
    styles = ET.SubElement(renderer, "styles")
    for kind in KINDS:
        if kind.key not in entry.layer.geometry:
            continue
        style = ET.SubElement(styles, "style", name=kind.group, layer="", enabled="1", geometry=str(kind.code),
                              expression=f"geometry_type($geometry)='{kind.qgis}'")
        style.set("min-zoom", "-1")
        style.set("max-zoom", "-1")
        ET.SubElement(style, "symbols").append(_symbol(kind, colour, entry.layer.id))
    return renderer


# --- rasters -------------------------------------------------------------------------------------

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
    import math

    if not ref.gsd_m or ref.gsd_m <= 0:
        return 22
    lat = (ref.bbox[1] + ref.bbox[3]) / 2 if ref.bbox else 22.0
    zoom = math.log2(156543.03392 * math.cos(math.radians(lat)) / ref.gsd_m)
    return max(0, min(24, math.ceil(zoom)))


def xyz_raster_uri(url: str, zmax: int, authcfg: str | None) -> str:
    """The XYZ raster source of QGIS's ``wms`` provider (the URL percent-encoded, as QGIS writes it)."""
    source = f"type=xyz&url={quote(url, safe=':/{}')}&zmin=0&zmax={zmax}"
    return source + (f"&authcfg={authcfg}" if authcfg else "")


def _raster_group(entries: list[RasterEntry]) -> ET.Element:
    group = ET.Element("layer-tree-group", name=RASTERS, checked="Qt::Checked", expanded="1")
    for entry in entries:
        ET.SubElement(group, "layer-tree-layer", id=entry.id, name=entry.name, providerKey="wms", source=entry.source,
                      checked="Qt::Checked" if entry.checked else "Qt::Unchecked", expanded="0")
    return group


def _raster_maplayer(entry: RasterEntry) -> ET.Element:
    """A ``<maplayer type="raster">`` of the ``wms`` provider (XYZ), drawn as the tiles' colours."""
    el = ET.Element("maplayer", type="raster")
    _text(el, "id", entry.id)
    _text(el, "datasource", entry.source)
    _text(el, "layername", entry.name)
    _text(el, "title", entry.name)
    _text(el, "abstract", entry.abstract)
    ET.SubElement(ET.SubElement(el, "srs"), "spatialrefsys").extend(_srs(3857))
    _text(el, "provider", "wms", encoding="UTF-8")
    pipe = ET.SubElement(el, "pipe")
    renderer = ET.SubElement(pipe, "rasterrenderer", type="multibandcolor", opacity="1", alphaBand="4",
                             redBand="1", greenBand="2", blueBand="3", nodataColor="")
    ET.SubElement(renderer, "rasterTransparency")
    return el
