"""Events for phones and GPS units: GeoJSON and KML (lon/lat), filtered by run, commune, owner or status."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
from sqlalchemy import Engine, text

from sdi.errors import InvalidInputError

FORMATS = ("geojson", "kml")
STATUS_VI = {"new": "mới", "verified": "đã xác minh", "false_alarm": "báo động giả"}
TYPE_VI = {"loss": "mất rừng", "gain": "tăng thảm thực vật"}


def read_events(engine: Engine, *, after_item: str | None = None, before_item: str | None = None,
                commune: str | None = None, owner: str | None = None, status: str | None = None,
                ) -> gpd.GeoDataFrame:
    """Events with their commune name and forest owner, largest first (parameters bound, never pasted)."""
    sql = text("""
        SELECT e.event_id, e.change_type, e.status, e.before_item, e.after_item, e.before_date, e.after_date,
               e.area_ha, e.magnitude, e.confidence, e.vegetation_index, e.plot_code, e.commune_code,
               a.name AS commune_name, p.owner_vi, e.note, e.geom
        FROM change_events e
        LEFT JOIN admin_units a ON a.code = e.commune_code
        LEFT JOIN forest_plots p ON p.plot_code = e.plot_code
        WHERE (CAST(:after AS text) IS NULL OR e.after_item = :after)
          AND (CAST(:before AS text) IS NULL OR e.before_item = :before)
          AND (CAST(:commune AS text) IS NULL OR e.commune_code = :commune)
          AND (CAST(:owner AS text) IS NULL OR p.owner_vi = :owner)
          AND (CAST(:status AS text) IS NULL OR e.status = :status)
        ORDER BY e.area_ha DESC, e.event_id""")
    with engine.connect() as conn:
        frame = gpd.read_postgis(sql, conn, geom_col="geom", params={
            "after": after_item, "before": before_item, "commune": commune, "owner": owner, "status": status})
    return frame.set_crs(4326, allow_override=True)


def _describe(row) -> str:
    return (f"{TYPE_VI.get(row.change_type, row.change_type)} / {row.change_type}: {row.area_ha:.2f} ha, "
            f"lô / plot {row.plot_code or '—'}, xã / commune {row.commune_name or row.commune_code or '—'}, "
            f"trạng thái / status {STATUS_VI.get(row.status, row.status)} ({row.status}), "
            f"{row.before_date:%Y-%m-%d} → {row.after_date:%Y-%m-%d}")


def export(frame: gpd.GeoDataFrame, path: Path, fmt: str | None = None) -> Path:
    """Write ``frame`` as GeoJSON (RFC 7946) or KML; the format from ``fmt`` or the file extension."""
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt == "json":
        fmt = "geojson"
    if fmt not in FORMATS:
        raise InvalidInputError(f"Định dạng không hỗ trợ / unsupported export format {fmt!r}; use one of "
                                f"{', '.join(FORMATS)}")
    out = frame.copy()
    out["Name"] = [f"{r.event_id} ({r.area_ha:.2f} ha)" for r in out.itertuples()]
    out["Description"] = [_describe(r) for r in out.itertuples()]
    for col in ("before_date", "after_date"):
        if col in out:
            out[col] = out[col].astype(str)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "geojson":
        path.write_text(json.dumps(json.loads(out.to_json(na="null", drop_id=True)), ensure_ascii=False),
                        encoding="utf-8")
    else:
        out.to_file(path, driver="KML")
    return path
