"""The province outline that every feature must fall inside."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS
from sqlalchemy import Connection, text

from sdi.crs import STORAGE, VN2000, reproject, to_storage
from sdi.settings import Settings

TM3 = CRS.from_epsg(9215)

BUNDLED_OUTLINE = "admin/langson_province_2025_dissolved.geojson"


def province_area(conn: Connection, settings: Settings) -> shapely.Geometry:
    """The province (from ``admin_units``, else the bundled outline) grown by the tolerance.

    The buffer is computed in VN-2000 / TM-3 107°15′ so the tolerance is in metres. The outline
    (30,000 vertices) is first simplified by a tenth of the tolerance and buffered by that much
    more, so the area still contains every point within the tolerance (at most 2 × a tenth more),
    and buffering takes 60 ms instead of 400 ms (each ingest and load asks once).
    """
    tol = settings.province_tolerance_m
    row = conn.execute(
        text("SELECT ST_AsBinary(ST_Transform(ST_Buffer(ST_SimplifyPreserveTopology(ST_Transform(geom, 9215), "
             ":d), :tol + :d, 8), 4326)) FROM admin_units WHERE level = 'province'").bindparams(tol=tol, d=tol / 10)
    ).scalar()
    if row is not None:
        return shapely.from_wkb(bytes(row))
    import pyogrio  # only without admin_units (a fresh database): keeps geopandas out of `sdi ingest`'s start-up

    outline = pyogrio.read_dataframe(settings.data_dir / BUNDLED_OUTLINE)
    shape = np.array([shapely.union_all(outline.geometry.values)])
    grown = shapely.buffer(shapely.simplify(reproject(shape, STORAGE, TM3), tol / 10), tol + tol / 10, quad_segs=8)
    return reproject(grown, TM3, STORAGE)[0]


def suggest_crs(raw: np.ndarray, declared: CRS, area: shapely.Geometry) -> str | None:
    """Which of the province's usual CRSs would put most of ``raw`` inside the province."""
    sample = raw[~shapely.is_missing(raw)][:500]
    if sample.size == 0:
        return None
    best, best_share = None, 0.5
    for epsg, label in {**VN2000, 4326: "WGS 84"}.items():
        crs = CRS.from_epsg(epsg)
        if crs.equals(declared, ignore_axis_order=True):
            continue
        try:
            moved = to_storage(sample.copy(), crs)
        except Exception:  # noqa: BLE001 - a CRS that cannot take these coordinates is no hint
            continue
        share = float(np.mean(shapely.intersects(area, moved)))
        if share > best_share:
            best, best_share = f"EPSG:{epsg} ({label})", share
    return best
