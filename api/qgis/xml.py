"""The ``.qgs`` document, written without QGIS: layer tree, map layers, metadata, CRS and extent.

The project CRS is VN-2000 / TM-3 107°15′ (EPSG:9215); the project opens on the province.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from functools import lru_cache

from api.ogc.config import OGC_PATH
from api.qgis.auth import auth_note
from api.qgis.plan import PROVINCE_BBOX, Entry, plan
from api.qgis.rasters import RASTERS, RasterEntry, raster_plan
from api.qgis.styles import layer_colour, tile_renderer, vector_renderer
from layers.catalog import Layer
from rasters.items import RasterRef
from sdi.access import Principal

#: The project CRS (QGIS ≥ 3.20 knows it; the WKT is written too for older ones).
PROJECT_EPSG = 9215
QGIS_VERSION = "3.22.0-Białowieża"


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
    colour = layer_colour(entry.layer.id)
    if tile:
        el.append(tile_renderer(entry, colour))
    elif entry.kind is not None:
        el.append(vector_renderer(entry, colour))
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
