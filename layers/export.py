"""Export a layer to GeoJSON or GeoPackage, streamed in chunks."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from sqlalchemy import Engine, select

from layers.catalog import Layer
from sdi.errors import InvalidInputError, UnsupportedFormatError

logger = logging.getLogger(__name__)

DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}
CHUNK = 20_000


def export_layer(engine: Engine, layer: Layer, path: Path, *, overwrite: bool = False) -> int:
    """Write every feature of ``layer`` to ``path``; returns the number written.

    Raises:
        UnsupportedFormatError: ``path`` is not .geojson/.json/.gpkg.
        InvalidInputError: ``path`` exists and ``overwrite`` is False.
    """
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise UnsupportedFormatError(
            f"Định dạng xuất không hỗ trợ / cannot export to '{path.suffix}'; use .geojson or .gpkg")
    if path.exists() and not overwrite:
        raise InvalidInputError(f"{path} đã tồn tại / already exists (use --overwrite)")
    path.unlink(missing_ok=True)
    table = layer.sa_table
    query = select(table).order_by(table.c[layer.natural_key])
    written = 0
    with engine.connect() as conn:
        conn = conn.execution_options(stream_results=True, max_row_buffer=CHUNK)
        if layer.has_geometry:
            chunks = gpd.read_postgis(query, conn, geom_col="geom", chunksize=CHUNK)
        else:
            chunks = pd.read_sql(query, conn, chunksize=CHUNK)
        for chunk in chunks:
            chunk = _flatten_arrays(chunk)
            if layer.has_geometry:
                pyogrio.write_dataframe(chunk, path, driver=driver, layer=layer.id,
                                        append=written > 0, promote_to_multi=False)
            else:
                pyogrio.write_dataframe(gpd.GeoDataFrame(chunk), path, driver=driver,
                                        layer=layer.id, append=written > 0)
            written += len(chunk)
    logger.info("exported %s features of %s to %s", written, layer.id, path)
    return written


def _flatten_arrays(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrays (keywords, agencies) become '; '-separated text, which every format holds."""
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, list)).any():
            frame[column] = frame[column].map(lambda v: "; ".join(v) if isinstance(v, list) else v)
    return frame
