"""The web map at ``/``: the page, its bundled script and style, and a place-name search.

The JavaScript and CSS (MapLibre GL JS and the app, from the npm registry) are bundled by
esbuild into ``web/dist`` (``make setup`` rebuilds it when node is there; the built files are
committed so a machine without node serves the same page). Nothing is fetched from outside at
run time: the base map is the SDI's own vector tiles.

Labels are drawn by MapLibre from glyph PBFs served here (``/webmap/glyphs/{fontstack}/{range}.pbf``,
built from DejaVu Sans by ``scripts/build_glyphs.py`` into ``web/dist/glyphs``, committed); commune
names are placed at one point inside each commune (``/webmap/labels/admin_units``), not per tile.

``GET /webmap/search?q=huu nghi`` finds places by name with or without diacritics (a Python
fold, as the catalogue's: PostgreSQL's ``unaccent`` may not be installed) in the layers the
caller may see: communes, pilot sites, border gates, industrial parks, points of interest, and every
published layer that is not restricted (by its name column: see ``search_columns``). Restricted layers are
read only through ``/ogc``, whose door writes every read of them to the access log.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine, Executable, String, Text, cast, func, literal, select

from layers.catalog import Layer
from sdi.callers import VisibleCatalog
from sdi.errors import NotFoundError
from sdi.text import fold, search_terms

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
#: the built bundle: beside the source tree (editable install), else ./web/dist (the Docker image)
DIST = next((d for d in (Path(__file__).resolve().parents[1] / "web" / "dist", Path.cwd() / "web" / "dist")
             if (d / "app.js").is_file()), Path(__file__).resolve().parents[1] / "web" / "dist")
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".png": "image/png", ".svg": "image/svg+xml"}
#: font stack (as the style names it) → folder of its glyph ranges under web/dist/glyphs
GLYPH_STACKS = {"DejaVu Sans Book": "dejavu-sans-book"}
#: polygon layers labelled at one point inside each feature: layer → label column, columns kept
LABELLED = {"admin_units": ("name", ("code", "level"))}

#: layer id → (name in Vietnamese, name in English, kind) columns searched by name
SEARCHED = {
    "admin_units": ("full_name", "full_name_en", "unit_type"),
    "pilot_sites": ("name_vi", "name_en", "problem_code"),
    "border_gates": ("name_vi", "name_en", "gate_type_vi"),
    "industrial_parks": ("name_vi", "name_en", "status_vi"),
    "poi_osm": ("name", "name_en", "category"),
}
#: a published layer's name column: the first of these, else its first text column (as QGIS picks a
#: layer's display field); its English name, if any, from the second list
NAME_COLUMNS = ("ten", "ten_vi", "name_vi", "name", "ten_goi", "ten_khu", "ten_vung", "ten_cay", "ten_dia_diem")
NAME_EN_COLUMNS = ("ten_en", "name_en", "ten_tieng_anh", "english_name")
_cache: dict[str, tuple[str, list[dict]]] = {}  # layer → (last_updated, rows)
#: small layers are sent whole, simplified, as one GeoJSON (one request instead of dozens of
#: tiles); big ones go as vector tiles from /ogc. Restricted layers always go through /ogc,
#: whose door writes every read of them to the access log.
SMALL_LAYER = 5_000
SIMPLIFY_DEG = 0.0002  # ~20 m: invisible at the zooms where a whole small layer is drawn
_features: dict[str, tuple[str, bytes]] = {}  # layer → (last_updated, GeoJSON bytes)
_labels: dict[str, tuple[str, bytes]] = {}  # layer → (last_updated, GeoJSON bytes)


def asset_version() -> str:
    """Changes whenever the bundle does, so browsers may cache it for long."""
    stamps = [int(p.stat().st_mtime) for p in DIST.glob("app.*") if p.is_file()]
    return str(max(stamps, default=0))


@router.get("/", response_class=HTMLResponse)
async def webmap(request: Request, layers: VisibleCatalog) -> HTMLResponse:
    """Bản đồ / the web map (the layers listed are those the caller may see)."""
    dumped = [layer.model_dump(mode="json", exclude={"aliases", "required"}) for layer in layers.values()]
    # inside <script type="application/json">: "</" must not end the element
    layers_json = json.dumps(dumped, ensure_ascii=False).replace("</", "<\\/")
    return templates.TemplateResponse(request, "webmap.html", {
        "layers": layers.values(), "layers_json": layers_json, "version": asset_version(),
    })


_gzipped: dict[str, tuple[float, bytes]] = {}  # file path → (mtime, gzip level 9 of it)


@router.get("/webmap/static/{name}")
def static(name: str, request: Request) -> Response:
    """The bundled script and style (only files of ``web/dist``, by plain name), compressed once."""
    path = DIST / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        raise NotFoundError(f"Không có tệp / no such file: {name}")
    return _compressed(path, STATIC_TYPES[path.suffix], request, path.suffix in (".js", ".css"),
                       {"Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/webmap/glyphs/{fontstack}/{glyph_range}.pbf")
def glyphs(fontstack: str, glyph_range: str, request: Request) -> Response:
    """Glyphs of one font stack, 256 code points per file, for the map's labels (MapLibre's ``glyphs``)."""
    folder = GLYPH_STACKS.get(fontstack.split(",")[0].strip())
    path = DIST / "glyphs" / str(folder) / f"{glyph_range}.pbf"
    if folder is None or not re.fullmatch(r"\d{1,6}-\d{1,6}", glyph_range) or not path.is_file():
        raise NotFoundError(f"Không có glyph / no glyphs {fontstack!r} {glyph_range!r}")
    return _compressed(path, "application/x-protobuf", request, True, {"Cache-Control": "public, max-age=86400"})


def _compressed(path: Path, media_type: str, request: Request, compress: bool, headers: dict) -> Response:
    headers = {**headers, "Vary": "Accept-Encoding"}
    if compress and "gzip" in request.headers.get("accept-encoding", ""):
        key = str(path)
        mtime = path.stat().st_mtime
        cached = _gzipped.get(key)
        if cached is None or cached[0] != mtime:
            cached = (mtime, gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
            _gzipped[key] = cached
        # the GZip middleware leaves a response that already has a Content-Encoding alone
        return Response(cached[1], media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return FileResponse(path, media_type=media_type, headers=headers)


def _feature_collection(engine: Engine, layer) -> bytes:
    stamp = str(layer.last_updated)
    cached = _features.get(layer.id)
    if cached and cached[0] == stamp:
        return cached[1]
    table = layer.sa_table
    columns = [c for c in table.columns if c.name != "geom"]
    query = (select(*columns, func.ST_AsGeoJSON(func.ST_SimplifyPreserveTopology(table.c.geom, SIMPLIFY_DEG), 6)
                    .label("g"))
             .order_by(columns[0]))
    body = _geojson(engine, query, id_column=layer.natural_key)
    _features[layer.id] = (stamp, body)
    return body


def _geojson(engine: Engine, query: Executable, id_column: str | None = None) -> bytes:
    """A FeatureCollection from rows whose column ``g`` is GeoJSON made by PostGIS (written as text
    around it: the geometry is not parsed and dumped again)."""
    features = []
    with engine.connect() as conn:
        for row in conn.execute(query):
            props = dict(row._mapping)
            geometry = props.pop("g")
            ident = f'"id":{json.dumps(str(props[id_column]))},' if id_column else ""
            features.append(f'{{"type":"Feature",{ident}"geometry":{geometry},'
                            f'"properties":{json.dumps(props, default=str, ensure_ascii=False)}}}')
    return ('{"type":"FeatureCollection","features":[' + ",".join(features) + "]}").encode()


@router.get("/webmap/features/{layer_id}")
async def features(layer_id: str, request: Request, layers: VisibleCatalog) -> Response:
    """A small public or internal layer whole (simplified geometry, every attribute) for the map."""
    layer = layers.get(layer_id)
    if layer is None or layer.access_level == "restricted" or layer.feature_count > SMALL_LAYER \
            or not layer.geometry:
        raise NotFoundError(f"Không có lớp nhỏ / no small layer {layer_id!r} for this caller")
    body = await asyncio.to_thread(_feature_collection, request.app.state.engine, layer)
    return Response(body, media_type="application/geo+json",
                    headers={"Cache-Control": "private, max-age=60", "Vary": "X-API-Key, Authorization"})


def _label_points(engine: Engine, layer) -> bytes:
    stamp = str(layer.last_updated)
    cached = _labels.get(layer.id)
    if cached and cached[0] == stamp:
        return cached[1]
    name, keep = LABELLED[layer.id]
    table = layer.sa_table
    query = (select(*(table.c[c] for c in (name, *keep)),
                    func.ST_AsGeoJSON(func.ST_PointOnSurface(table.c.geom), 6).label("g"))
             .where(table.c[name].is_not(None)).order_by(table.c[name]))
    body = _geojson(engine, query)
    _labels[layer.id] = (stamp, body)
    return body


@router.get("/webmap/labels/{layer_id}")
async def labels(layer_id: str, request: Request, layers: VisibleCatalog) -> Response:
    """One label point inside each feature of a polygon layer (commune names), for the caller's layers."""
    layer = layers.get(layer_id)
    if layer is None or layer_id not in LABELLED or layer.access_level == "restricted":
        raise NotFoundError(f"Không có nhãn / no labels for {layer_id!r} for this caller")
    body = await asyncio.to_thread(_label_points, request.app.state.engine, layer)
    return Response(body, media_type="application/geo+json",
                    headers={"Cache-Control": "private, max-age=60", "Vary": "X-API-Key, Authorization"})


def search_columns(layer: Layer) -> tuple[str, str | None, str | None] | None:
    """(name, English name, kind) columns searched in a layer; None when it has no name to search."""
    if layer.id in SEARCHED:
        return SEARCHED[layer.id]
    if not layer.published or layer.access_level == "restricted" or "geom" not in layer.sa_table.c:
        return None
    texts = [c.name for c in layer.sa_table.columns
             if isinstance(c.type, String) and c.name != "geom" and c.computed is None]
    name = next((n for n in NAME_COLUMNS if n in texts), None) or next(
        (n for n in texts if n.startswith(("ten_", "name")) and not n.endswith("_en")), None) or next(
        (n for n in texts if n != layer.natural_key), None)
    if name is None:
        return None
    return name, next((n for n in NAME_EN_COLUMNS if n in texts and n != name), None), None


def _rows(engine: Engine, layer: Layer, last_updated: str) -> list[dict]:
    layer_id, table, key = layer.id, layer.sa_table, layer.natural_key
    cached = _cache.get(layer_id)
    if cached and cached[0] == last_updated:
        return cached[1]
    columns = search_columns(layer)
    if columns is None:
        return []
    name, name_en, kind = columns
    c, geom = table.c, table.c.geom
    query = select(cast(c[key], Text).label("id"), c[name].label("name"),
                   (c[name_en] if name_en else literal(None, Text)).label("name_en"),
                   (cast(c[kind], Text) if kind else literal(layer.title_vi, Text)).label("kind"),
                   func.ST_X(func.ST_PointOnSurface(geom)).label("lon"),
                   func.ST_Y(func.ST_PointOnSurface(geom)).label("lat"),
                   func.ST_XMin(geom).label("w"), func.ST_YMin(geom).label("s"),
                   func.ST_XMax(geom).label("e"), func.ST_YMax(geom).label("n")).where(c[name].is_not(None))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for r in rows:
        r["layer"] = layer_id
        r["_fold"] = fold(f"{r['name']} {r['name_en'] or ''}")
        r["bbox"] = [round(r.pop(k), 6) for k in ("w", "s", "e", "n")]
        r["lon"], r["lat"] = round(r["lon"], 6), round(r["lat"], 6)
    _cache[layer_id] = (last_updated, rows)
    return rows


@router.get("/webmap/search")
async def search(request: Request, layers: VisibleCatalog, q: str = Query("", max_length=200),
                 limit: int = Query(20, ge=1, le=100)) -> JSONResponse:
    """Tìm địa danh / place names, with or without diacritics, in the layers the caller may see."""
    terms = search_terms(q)
    if not terms:
        return JSONResponse({"query": q, "results": []})
    engine = request.app.state.engine
    found: list[tuple[int, dict]] = []
    for layer in layers.values():
        if search_columns(layer) is None:
            continue
        rows = await asyncio.to_thread(_rows, engine, layer, str(layer.last_updated))
        for r in rows:
            if all(t in r["_fold"] for t in terms):
                # whole words first, then by name length (communes before long POI names)
                words = r["_fold"].split()
                score = sum(0 if t in words else 1 for t in terms) * 1000 + len(r["name"])
                found.append((score, r))
    found.sort(key=lambda pair: pair[0])
    results = [{k: v for k, v in r.items() if k != "_fold"} for _, r in found[:limit]]
    return JSONResponse(json.loads(json.dumps({"query": q, "results": results}, default=str)))
