"""``sdi map export LAYER... --out map.html``: a static folium (Leaflet) map of chosen layers,
for reports and notebooks.

Each layer is one toggleable GeoJSON overlay with a tooltip of its name and a popup of every
attribute, coloured as on the web map; geometry is simplified (``--simplify`` metres, default
10) so the file stays small. Like ``sdi layers export`` it reads the database directly, so it
is for staff who run the platform; restricted layers are marked as such in their title.

The file is self-contained: Leaflet (installed from the npm registry with the web map, copied to
``web/dist/leaflet`` by its build) is written into it instead of folium's CDN links, so it opens
on a closed network; no base map unless ``--osm`` (OpenStreetMap tiles).
"""

from __future__ import annotations

import json
from pathlib import Path

import folium
import geopandas as gpd
from sqlalchemy import Engine, func, select

from layers.catalog import get_layer, load_catalog
from sdi.errors import InvalidInputError

COLOURS = {
    "admin_units": "#8a7f62", "forest_plots": "#2e7d32", "border_belt": "#b71c1c", "rivers": "#2f7fc1",
    "transport_network": "#d9822b", "border_line": "#c62828", "industrial_parks": "#7b1fa2",
    "border_gates": "#c62828", "pilot_sites": "#1565c0", "poi_osm": "#6d4c41", "change_events": "#ff6f00",
}
ACCESS_LABELS = {"internal": "nội bộ / internal", "restricted": "HẠN CHẾ / RESTRICTED"}
LEAFLET = next((d for d in (Path(__file__).resolve().parents[1] / "web" / "dist" / "leaflet",
                             Path.cwd() / "web" / "dist" / "leaflet") if (d / "leaflet.js").is_file()),
               Path(__file__).resolve().parents[1] / "web" / "dist" / "leaflet")
NAME_FIELDS = ("name_vi", "full_name", "name", "plot_code", "event_id", "code")


def build_map(engine: Engine, layer_ids: list[str], *, simplify_m: float = 10.0, osm: bool = False) -> str:
    """The HTML of a folium map of ``layer_ids`` (catalogue ids)."""
    catalog = load_catalog(engine)
    layers = [get_layer(catalog, i) for i in layer_ids]
    fmap = folium.Map(tiles="OpenStreetMap" if osm else None, control_scale=True, prefer_canvas=True)
    if (LEAFLET / "leaflet.js").is_file():
        # Leaflet inside the file rather than folium's CDN links (jQuery, Bootstrap, … are not used)
        fmap.default_js, fmap.default_css = [], []
        header = fmap.get_root().header  # type: ignore[attr-defined]
        header.add_child(folium.Element(f"<style>{(LEAFLET / 'leaflet.css').read_text()}</style>"))
        header.add_child(folium.Element(f"<script>{(LEAFLET / 'leaflet.js').read_text()}</script>"))
    bounds: list[float] | None = None
    tolerance = simplify_m / 111_000  # degrees, near enough at 22°N for drawing
    for layer in layers:
        if not layer.geometry:
            raise InvalidInputError(f"Lớp không có hình học / {layer.id} has no geometry (a table without a map)")
        table = layer.sa_table  # columns from the catalogue's table definition only
        stmt = select(*[c for c in table.columns if c.name != "geom"],
                      func.ST_SimplifyPreserveTopology(table.c.geom, tolerance).label("geom"))
        with engine.connect() as conn:
            frame = gpd.read_postgis(stmt, conn, geom_col="geom", crs=4326)
        for c in frame.columns:
            if c != "geom" and frame[c].dtype == object:
                frame[c] = frame[c].map(lambda v: "; ".join(map(str, v)) if isinstance(v, list) else v)
        for c in frame.select_dtypes(include=["datetime", "datetimetz"]).columns:
            frame[c] = frame[c].astype(str)
        frame = frame.astype({c: str for c in frame.columns if c != "geom" and str(frame[c].dtype) == "object"})
        colour = COLOURS.get(layer.id, "#00838f")
        label = f"{layer.title_vi} / {layer.title_en}"
        if layer.access_level != "public":
            label += " [" + ACCESS_LABELS[layer.access_level] + "]"
        name_field = next((f for f in NAME_FIELDS if f in frame.columns), None)
        shown = [c for c in frame.columns if c != "geom"][:25]
        group = folium.FeatureGroup(name=label)
        folium.GeoJson(
            json.loads(frame.to_json(drop_id=True)),
            style_function=lambda _f, c=colour: {"color": c, "weight": 2, "fillColor": c, "fillOpacity": 0.3},
            marker=folium.CircleMarker(radius=6, color="#ffffff", weight=1.5, fill=True, fill_color=colour,
                                       fill_opacity=0.9),
            tooltip=folium.GeoJsonTooltip(fields=[name_field]) if name_field else None,
            popup=folium.GeoJsonPopup(fields=shown, max_width=360),
        ).add_to(group)
        group.add_to(fmap)
        if len(frame):
            b = [float(v) for v in frame.total_bounds]
            bounds = b if bounds is None else [min(bounds[0], b[0]), min(bounds[1], b[1]),
                                               max(bounds[2], b[2]), max(bounds[3], b[3])]
    folium.LayerControl(collapsed=False).add_to(fmap)
    if bounds:
        fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    title = "Hạ tầng dữ liệu không gian tỉnh Lạng Sơn · " + ", ".join(layer.title_vi for layer in layers)
    fmap.get_root().header.add_child(folium.Element(f"<title>{title}</title>"))  # type: ignore[attr-defined]
    return fmap.get_root().render()
