"""Reports for rangers (Vietnamese first, English alongside): per commune or per forest owner, HTML and PDF.

Each report has a map of the area (the events over the commune outline, as SVG in HTML and vector
drawing in PDF), before/after image chips of each event (read from the registered COGs), a table
(plot, area, magnitude, confidence, centre in VN-2000 / TM-3 107°15′ and WGS 84) and totals.
The PDF embeds DejaVu Sans (Debian ``fonts-dejavu-core``) for Vietnamese; nothing is downloaded.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from PIL import Image
from pyproj import Transformer

from change.export import STATUS_VI, TYPE_VI, read_events
from change.run import OPERATOR
from rasters.bands import roles
from rasters.environment import gdal_env
from rasters.items import OutsideStoreError, find_item
from sdi.access import Principal
from sdi.settings import Settings

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
TO_VN2000 = Transformer.from_crs(4326, 9215, always_xy=True)


@dataclass
class Chip:
    before: bytes | None
    after: bytes | None


def _chip(location: str, geom_4326: shapely.Geometry, roles: dict[str, int], size: int = 160) -> bytes | None:
    """A true-colour PNG of the event's surroundings (its box plus half its size around)."""
    from rio_tiler.errors import RioTilerError
    from rio_tiler.io import Reader

    minx, miny, maxx, maxy = geom_4326.bounds
    pad = max(maxx - minx, maxy - miny) * 0.5 + 1e-5
    bands = tuple(roles.get(b, i + 1) for i, b in enumerate(("red", "green", "blue")))
    try:
        with Reader(location) as src:
            img = src.part((minx - pad, miny - pad, maxx + pad, maxy + pad), bounds_crs="EPSG:4326",
                           dst_crs="EPSG:4326", indexes=bands, width=size, height=size)
        data = img.data.astype(float)
    except (RioTilerError, rasterio.errors.RasterioError, ValueError):
        return None
    lo, hi = np.percentile(data[data > 0], [2, 98]) if (data > 0).any() else (0, 1)
    rgb = np.clip((data - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype("uint8").transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _text(value: object) -> str:
    """A cell as text, "—" when missing (pandas reads a missing text as None or NaN)."""
    return value if isinstance(value, str) and value else "—"


def _rows(frame: gpd.GeoDataFrame) -> list[dict]:
    out = []
    for r in frame.itertuples():
        c = r.geom.centroid
        x, y = TO_VN2000.transform(c.x, c.y)
        out.append({"id": r.event_id, "type": f"{TYPE_VI.get(r.change_type)} / {r.change_type}",
                    "plot": _text(r.plot_code), "owner": _text(getattr(r, "owner_vi", None)),
                    "area": r.area_ha, "magnitude": r.magnitude, "confidence": r.confidence,
                    "status": f"{STATUS_VI.get(r.status, r.status)} / {r.status}",
                    "note": r.note if isinstance(getattr(r, "note", None), str) else "",
                    "commune": _text(r.commune_name if isinstance(getattr(r, "commune_name", None), str)
                                     else getattr(r, "commune_code", None)),
                    "wgs84": f"{c.y:.6f}, {c.x:.6f}", "vn2000": f"X {y:,.1f} m, Y {x:,.1f} m",
                    "dates": f"{r.before_date:%d/%m/%Y} → {r.after_date:%d/%m/%Y}"})
    return out


def _svg(frame: gpd.GeoDataFrame, outline: shapely.Geometry | None, width: int = 640, height: int = 420) -> str:
    shapes = list(frame.geom) + ([outline] if outline is not None else [])
    minx, miny, maxx, maxy = shapely.GeometryCollection(shapes).bounds
    scale = min(width / max(maxx - minx, 1e-9), height / max(maxy - miny, 1e-9)) * 0.95

    def path(g: shapely.Geometry) -> str:
        parts = []
        for poly in getattr(g, "geoms", [g]):
            rings = [poly.exterior, *poly.interiors] if hasattr(poly, "exterior") else []
            for ring in rings:
                pts = " ".join(f"{(x - minx) * scale + 5:.1f},{(maxy - y) * scale + 5:.1f}" for x, y in ring.coords)
                parts.append(f"M{pts}Z")
        return " ".join(parts)

    body = []
    if outline is not None:
        body.append(f'<path d="{path(outline)}" fill="#f4f1e8" stroke="#777" stroke-width="1"/>')
    for r in frame.itertuples():
        colour = "#d7301f" if r.change_type == "loss" else "#1a9850"
        body.append(f'<path d="{path(r.geom)}" fill="{colour}" fill-opacity="0.7" stroke="{colour}">'
                    f"<title>{html.escape(r.event_id)} {r.area_ha:.2f} ha</title></path>")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 10}" height="{height + 10}" '
            f'role="img" aria-label="Bản đồ biến động / change map">{"".join(body)}</svg>')


def build(frame: gpd.GeoDataFrame, title_vi: str, title_en: str, chips: dict[str, Chip],
          outline: shapely.Geometry | None = None) -> str:
    """The HTML report (self-contained: chips as data URIs, map as inline SVG)."""
    rows = _rows(frame)
    loss = frame[frame.change_type == "loss"]
    total = (f"Tổng / total: {len(frame)} vùng / events; mất rừng / loss {len(loss)} vùng, "
             f"{loss.area_ha.sum():.2f} ha; tăng / gain {len(frame) - len(loss)} vùng, "
             f"{frame[frame.change_type == 'gain'].area_ha.sum():.2f} ha")

    def img(data: bytes | None, alt: str) -> str:
        return (f'<img alt="{alt}" width="160" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
                if data else "—")

    def note(text: str) -> str:  # the ranger's field note, under the status
        return f"<br><small>{html.escape(text)}</small>" if text else ""

    table = "".join(
        f"<tr><td>{html.escape(r['id'])}</td><td>{r['type']}</td><td>{html.escape(r['plot'])}</td>"
        f"<td>{html.escape(str(r['commune']))}</td>"
        f"<td>{html.escape(r['owner'])}</td><td>{r['area']:.2f}</td><td>{r['magnitude']:.2f}</td>"
        f"<td>{r['confidence']:.2f}</td><td>{r['vn2000']}<br>{r['wgs84']}</td><td>{r['dates']}</td>"
        f"<td>{r['status']}{note(r['note'])}</td>"
        f"<td>{img(chips.get(r['id'], Chip(None, None)).before, 'trước / before')}</td>"
        f"<td>{img(chips.get(r['id'], Chip(None, None)).after, 'sau / after')}</td></tr>" for r in rows)
    return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<title>{html.escape(title_vi)} / {html.escape(title_en)}</title>
<style>body{{font-family:"DejaVu Sans",sans-serif;margin:1.5em}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #bbb;padding:3px 5px;vertical-align:top}}th{{background:#eee}}</style></head><body>
<h1>{html.escape(title_vi)}</h1><p lang="en"><em>{html.escape(title_en)}</em></p>
<p>Lập ngày / generated {dt.datetime.now(dt.UTC):%d/%m/%Y %H:%M} UTC. Toạ độ tâm vùng theo VN-2000 / TM-3 107°15′
(EPSG:9215) và WGS 84 để kiểm tra hiện trường / centre coordinates for field verification.</p>
<p><strong>{total}</strong></p>
<h2>Bản đồ / Map</h2>{_svg(frame, outline)}
<p>Đỏ: mất rừng; xanh: tăng thảm thực vật / red: loss; green: gain.</p>
<h2>Danh sách / Events</h2><table><tr><th>Mã / id</th><th>Loại / type</th><th>Lô / plot</th><th>Xã / commune</th>
<th>Chủ rừng / owner</th><th>Diện tích / area (ha)</th><th>Độ lớn / magnitude</th><th>Tin cậy / confidence</th>
<th>Toạ độ / coordinates</th><th>Ngày / dates</th><th>Trạng thái / status</th><th>Trước / before</th>
<th>Sau / after</th></tr>{table}</table></body></html>"""


def pdf(frame: gpd.GeoDataFrame, title_vi: str, title_en: str, chips: dict[str, Chip], path: Path) -> Path:
    """The same report as PDF (fpdf2, DejaVu Sans embedded)."""
    from fpdf import FPDF

    doc = FPDF(orientation="L", unit="mm", format="A4")
    doc.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    doc.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    doc.add_page()
    doc.set_font("DejaVu", "B", 14)
    doc.multi_cell(0, 7, f"{title_vi}\n{title_en}", new_x="LMARGIN", new_y="NEXT")
    doc.set_font("DejaVu", "", 9)
    loss = frame[frame.change_type == "loss"]
    doc.multi_cell(0, 5, f"Tổng / total: {len(frame)} vùng / events; mất rừng / loss {len(loss)} vùng, "
                         f"{loss.area_ha.sum():.2f} ha. Toạ độ VN-2000 / TM-3 107°15′ (EPSG:9215) và WGS 84.",
                   new_x="LMARGIN", new_y="NEXT")
    # map: the events scaled into a 120 × 80 mm box
    if len(frame):
        minx, miny, maxx, maxy = shapely.GeometryCollection(list(frame.geom)).bounds
        scale = min(120 / max(maxx - minx, 1e-9), 80 / max(maxy - miny, 1e-9)) * 0.9
        x0, y0 = doc.get_x() + 5, doc.get_y() + 5
        doc.rect(x0 - 3, y0 - 3, 126, 86)
        for r in frame.itertuples():
            doc.set_fill_color(*((215, 48, 31) if r.change_type == "loss" else (26, 152, 80)))
            for poly in getattr(r.geom, "geoms", [r.geom]):
                pts = [(x0 + (x - minx) * scale, y0 + (maxy - y) * scale) for x, y in poly.exterior.coords]
                doc.polygon(pts, style="F")
        doc.set_y(y0 + 88)
    for r in _rows(frame):
        if doc.get_y() > 165:
            doc.add_page()
        doc.set_font("DejaVu", "B", 9)
        doc.cell(0, 5, f"{r['id']} — {r['type']} — {r['area']:.2f} ha — {r['status']}", new_x="LMARGIN",
                 new_y="NEXT")
        doc.set_font("DejaVu", "", 8)
        doc.multi_cell(180, 4, f"Lô / plot: {r['plot']}; xã / commune: {r['commune']}; chủ rừng / owner: {r['owner']}; "
                               f"độ lớn / magnitude "
                               f"{r['magnitude']:.2f}; tin cậy / confidence {r['confidence']:.2f}; {r['dates']}\n"
                               f"VN-2000: {r['vn2000']}; WGS 84: {r['wgs84']}"
                               + (f"\nGhi chú / note: {r['note']}" if r["note"] else ""),
                       new_x="LMARGIN", new_y="NEXT")
        y = doc.get_y()
        chip = chips.get(r["id"])
        for i, data in enumerate((chip.before, chip.after) if chip else ()):
            if data:
                doc.image(io.BytesIO(data), x=200 + i * 42, y=y - 12, w=38)
        doc.set_y(max(doc.get_y(), y + 28))
    doc.output(str(path))
    return path


def chips_for(frame: gpd.GeoDataFrame, sources: dict[str, tuple[str, dict[str, int]]],
              settings: Settings) -> dict[str, Chip]:
    """Before/after chips of each event from ``sources`` (item id → COG location and band roles), read
    inside the store's GDAL environment (an S3 store: its endpoint and keys)."""
    out = {}
    with rasterio.Env(**gdal_env(settings)):
        for r in frame.itertuples():
            b, a = sources.get(r.before_item), sources.get(r.after_item)
            out[r.event_id] = Chip(_chip(b[0], r.geom, b[1]) if b else None,
                                   _chip(a[0], r.geom, a[1]) if a else None)
    return out


def _slug(text: str) -> str:
    import re
    import unicodedata

    flat = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D")).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", flat).strip("-").lower()[:60] or "x"


@dataclass
class Report:
    """One report: the events of a run (or all runs), of a commune or a forest owner, ready to render."""
    frame: gpd.GeoDataFrame
    title_vi: str
    title_en: str
    chips: dict[str, Chip]
    outline: shapely.Geometry | None = None

    def html(self) -> str:
        return build(self.frame, self.title_vi, self.title_en, self.chips, self.outline)

    def pdf(self, path: Path) -> Path:
        return pdf(self.frame, self.title_vi, self.title_en, self.chips, path)


def sources(engine, settings, items: set[str], who: Principal) -> dict[str, tuple[str, dict[str, int]]]:
    """The COG location and band roles of each item ``who`` may see (the others get no chips)."""
    out = {}
    for item in sorted(items):
        try:
            ref = find_item(engine, settings, item, who)
        except OutsideStoreError:
            ref = None
        if ref is not None:
            out[item] = (ref.location, roles(ref, gdal_env(settings)))
    return out


def commune_outline(engine, code: str) -> shapely.Geometry | None:
    from sqlalchemy import text

    with engine.connect() as conn:
        wkb = conn.execute(text("SELECT ST_AsBinary(geom) FROM admin_units WHERE code = :c"), {"c": code}).scalar()
    return shapely.from_wkb(bytes(wkb)) if wkb else None


def titles(frame: gpd.GeoDataFrame, commune: str | None = None, owner: str | None = None) -> tuple[str, str]:
    """The report's title in Vietnamese and English (the events' commune or owner, else their run)."""
    if commune is not None:
        name = (frame.commune_name.dropna().iloc[0] if frame.commune_name.notna().any() else None) or commune
        return f"Báo cáo biến động rừng – xã {name}", f"Forest change report – commune {name}"
    if owner is not None:
        return f"Báo cáo biến động rừng – chủ rừng {owner}", f"Forest change report – owner {owner}"
    runs = sorted({f"{b:%d/%m/%Y} → {a:%d/%m/%Y}" for b, a in zip(frame.before_date, frame.after_date, strict=True)})
    span = "; ".join(runs) or "—"
    return f"Báo cáo biến động rừng – đợt {span}", f"Forest change report – run {span}"


def prepare(engine, settings, frame: gpd.GeoDataFrame, *, commune: str | None = None,
            owner: str | None = None, who: Principal | None = None,
            chips: dict[str, Chip] | None = None) -> Report:
    """The report of ``frame`` (already filtered to the commune or owner); chips from the items ``who``
    may see (the command line's operator by default), unless given."""
    if chips is None:
        found = sources(engine, settings, set(frame.before_item) | set(frame.after_item), who or OPERATOR)
        chips = chips_for(frame, found, settings)
    title_vi, title_en = titles(frame, commune, owner)
    outline = commune_outline(engine, commune) if commune is not None else None
    return Report(frame, title_vi, title_en, chips, outline)


def write_reports(engine, settings, out_dir: Path, *, after_item: str | None = None) -> list[Path]:
    """One HTML + PDF report per commune and per forest owner of the events (of ``after_item``'s run)."""
    frame = read_events(engine, after_item=after_item)
    out_dir.mkdir(parents=True, exist_ok=True)
    chips = chips_for(frame, sources(engine, settings, set(frame.before_item) | set(frame.after_item), OPERATOR),
                      settings)
    written: list[Path] = []
    groups = [("xa", "commune_code", c) for c in sorted(frame.commune_code.dropna().unique())]
    groups += [("chu-rung", "owner_vi", o) for o in sorted(frame.owner_vi.dropna().unique())]
    for prefix, column, value in groups:
        part = frame[frame[column] == value]
        report = prepare(engine, settings, part, chips=chips, **(
            {"commune": value} if column == "commune_code" else {"owner": value}))
        stem = out_dir / f"{prefix}-{_slug(str(value))}"
        html_path = stem.with_suffix(".html")
        html_path.write_text(report.html(), encoding="utf-8")
        written += [html_path, report.pdf(stem.with_suffix(".pdf"))]
    return written


# --- the runs and their versions, for reports served over HTTP ----------------------------------

_FILTER = """FROM change_events e
        LEFT JOIN admin_units a ON a.code = e.commune_code
        LEFT JOIN forest_plots p ON p.plot_code = e.plot_code
        WHERE e.before_item = :before AND e.after_item = :after
          AND (CAST(:commune AS text) IS NULL OR e.commune_code = :commune)
          AND (CAST(:owner AS text) IS NULL OR p.owner_vi = :owner)"""


def version(engine, before: str, after: str, *, commune: str | None = None,
            owner: str | None = None) -> tuple[int, str]:
    """How many events a report has and a digest of everything it shows (each event's row, status and
    note included, with its commune name and forest owner): it changes whenever any of them does."""
    from sqlalchemy import text

    sql = text(f"""SELECT count(*), md5(coalesce(string_agg(
                       md5(e::text || '|' || coalesce(a.name, '') || '|' || coalesce(p.owner_vi, '')),
                       ',' ORDER BY e.event_id), ''))
        {_FILTER}""")
    with engine.connect() as conn:
        count, digest = conn.execute(sql, {"before": before, "after": after, "commune": commune,
                                           "owner": owner}).one()
    return int(count), str(digest)


def list_runs(engine) -> list[dict]:
    """The runs (before/after pairs) with events: totals, and the communes and forest owners they touch."""
    from sqlalchemy import text

    with engine.connect() as conn:
        runs = [dict(r._mapping) for r in conn.execute(text("""
            SELECT before_item, after_item, min(before_date) AS before_date, max(after_date) AS after_date,
                   count(*) AS events,
                   round(coalesce(sum(area_ha) FILTER (WHERE change_type = 'loss'), 0)::numeric, 4)::float
                       AS loss_ha,
                   round(coalesce(sum(area_ha) FILTER (WHERE change_type = 'gain'), 0)::numeric, 4)::float
                       AS gain_ha,
                   count(*) FILTER (WHERE status = 'new') AS new,
                   count(*) FILTER (WHERE status = 'verified') AS verified,
                   count(*) FILTER (WHERE status = 'false_alarm') AS false_alarm,
                   max(detected_at) AS detected_at
            FROM change_events GROUP BY before_item, after_item
            ORDER BY max(after_date) DESC, before_item, after_item"""))]
        communes = conn.execute(text("""
            SELECT e.before_item, e.after_item, e.commune_code, a.name, count(*)
            FROM change_events e LEFT JOIN admin_units a ON a.code = e.commune_code
            WHERE e.commune_code IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 4, 3""")).all()
        owners = conn.execute(text("""
            SELECT e.before_item, e.after_item, p.owner_vi, count(*)
            FROM change_events e JOIN forest_plots p ON p.plot_code = e.plot_code
            WHERE p.owner_vi IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 3""")).all()
    by_pair = {(r["before_item"], r["after_item"]): {**r, "communes": [], "owners": []} for r in runs}
    for before, after, code, name, n in communes:
        by_pair[(before, after)]["communes"].append({"code": code, "name": name, "events": n})
    for before, after, owner, n in owners:
        by_pair[(before, after)]["owners"].append({"name": owner, "events": n})
    return list(by_pair.values())
