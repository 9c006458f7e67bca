"""How the vector layers are drawn: one colour per layer, a simple marker, line or fill symbol."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from api.qgis.plan import KINDS, LINE, POINT, Entry, Kind

#: Colours (r,g,b) of the bundled layers; others take the palette in turn.
COLOURS = {
    "border_gates": "200,30,30", "poi_osm": "90,90,90", "pilot_sites": "230,120,0",
    "industrial_parks": "120,60,160", "border_line": "200,30,30", "transport_network": "150,90,40",
    "rivers": "40,110,200", "admin_units": "80,80,80", "border_belt": "200,30,30", "forest_plots": "40,140,60",
}
PALETTE = ("31,120,180", "51,160,44", "227,26,28", "255,127,0", "106,61,154", "177,89,40")
#: Area layers drawn as outlines only (they cover the whole province).
OUTLINE_ONLY = {"admin_units"}


def layer_colour(layer_id: str) -> str:
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


def vector_renderer(entry: Entry, colour: str) -> ET.Element:
    """A single symbol of the entry's kind. QGIS types an OAPIF layer from its first items, so
    one kind of a mixed collection may be typed as the other; QGIS draws each feature by its
    own geometry, so a fill symbol still draws the areas of a layer typed as points."""
    assert entry.kind is not None
    renderer = ET.Element("renderer-v2", type="singleSymbol", symbollevels="0", enableorderby="0",
                          forceraster="0", referencescale="-1")
    ET.SubElement(renderer, "symbols").append(_symbol(entry.kind, colour, entry.layer.id))
    return renderer


def tile_renderer(entry: Entry, colour: str) -> ET.Element:
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
