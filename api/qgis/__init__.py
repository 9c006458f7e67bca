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

The package, one way down: ``route`` (the FastAPI route) → ``xml`` (the document: layer tree, map
layers, metadata, CRS and extent) → ``plan`` (which vector layers, in which order, their URIs),
``styles`` (renderers and symbols), ``rasters`` (the raster items' XYZ layers) and ``auth`` (the
authentication configuration the layers name).
"""

from api.qgis.auth import DEFAULT_AUTHCFG
from api.qgis.rasters import RASTERS
from api.qgis.route import router

__all__ = ["DEFAULT_AUTHCFG", "RASTERS", "router"]
