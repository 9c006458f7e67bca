"""Which layers the project holds, in which groups and order, and their QGIS data source URIs.

Every visible collection is an *OGC API – Features* layer (provider ``OAPIF``), grouped points
over lines over areas, tables (no geometry) last; a collection holding points and areas becomes
one layer per kind, filtered by ``geometry_type($geometry)``. Large layers (more features than
one QGIS page) are also vector tiles (provider ``vectortile``) in their own group.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from api.ogc.config import OGC_PATH
from layers.catalog import Layer

#: Lạng Sơn, lon/lat, when the catalogue has no extent yet.
PROVINCE_BBOX = (106.0, 21.3, 107.4, 22.5)
#: QGIS 3.22 pages OAPIF by 1000 features: a layer needing more than one page gets vector tiles.
TILE_MIN_FEATURES = 1000


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
