"""The raster domain: where COGs are stored, the catalogue of collections and items, band roles,
and the one GDAL/S3 set-up to read them.

Used by the ingest pipeline (``uav_ingest``), the tile server (``tiles``), change detection
(``change``) and the API (``api``); it imports only the core (``sdi``).
"""
