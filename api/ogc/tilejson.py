"""TileJSON 3.0 for a layer's vector tiles, for MapLibre and QGIS (pygeoapi has none for
PostgreSQL tiles: its tileset metadata is the OGC document only)."""

from __future__ import annotations

from layers.catalog import Layer

#: The tile matrix set served; OGC paths are {tileMatrix}/{tileRow}/{tileCol} = {z}/{y}/{x}.
TMS = "WebMercatorQuad"
MIN_ZOOM, MAX_ZOOM = 0, 22


def _json_type(column) -> str:
    try:
        python = column.type.python_type
    except NotImplementedError:
        return "String"
    return "Number" if python in (int, float) else "Boolean" if python is bool else "String"


def tilejson(layer: Layer, ogc_url: str, lang: str = "vi") -> dict:
    """The TileJSON document of ``layer``'s Mapbox vector tiles at ``ogc_url``."""
    ext = layer.extent or [106.0, 21.3, 107.4, 22.5]
    # pygeoapi's MVT provider writes the layer's key as the property "id"
    fields = {("id" if c.name == layer.natural_key else c.name): _json_type(c)
              for c in layer.sa_table.columns if c.name != "geom"}
    title = layer.title_vi if lang == "vi" else layer.title_en
    return {
        "tilejson": "3.0.0",
        "name": title,
        "description": layer.abstract_vi if lang == "vi" else layer.abstract_en,
        "version": "1.0.0",
        "attribution": layer.attribution,
        "scheme": "xyz",
        "tiles": [f"{ogc_url}/collections/{layer.id}/tiles/{TMS}/{{z}}/{{y}}/{{x}}?f=mvt"],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "bounds": [round(v, 6) for v in ext],
        "center": [round((ext[0] + ext[2]) / 2, 6), round((ext[1] + ext[3]) / 2, 6), 9],
        "vector_layers": [{"id": layer.table, "description": title, "minzoom": MIN_ZOOM, "maxzoom": MAX_ZOOM,
                           "fields": fields}],
    }
