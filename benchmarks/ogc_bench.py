"""OGC API benchmark: this project's /ogc against standalone pygeoapi and tipg, same table.

One run:

1. prepares a scratch database ``sdi_ogcbench`` (embedded cluster, or
   ``SDI_BENCH_DATABASE_URL``) and loads the 100,000 generated forest-plot polygons of
   ``load_bench.py`` with ``sdi layers load``;
2. serves that one ``forest_plots`` table three ways, each its own uvicorn process on
   loopback with one worker:

   - **sdi**: ``sdi serve`` — pygeoapi mounted at ``/ogc`` behind the access gateway
     (``forest_plots`` is ``internal``, so every request carries an ``X-API-Key``);
   - **pygeoapi**: ``uvicorn pygeoapi.starlette_app:APP`` with its own generated config:
     the stock ``PostgreSQL`` feature and ``MVT-postgresql`` tile providers on the same
     table, CRS84 storage, the same limits, languages, pool size and no ``numberMatched``
     count (as sdi does for big layers), and pygeoapi's own gzip switched on (sdi
     compresses through FastAPI's GZip middleware; both use gzip level 9);
   - **tipg**: ``uvicorn tipg.main:app`` from a separate venv (``benchmarks/.work/peers-venv``,
     created with ``pip install tipg uvicorn`` on first use), stock settings;

   and checks that the three return the same features for every items request;
3. times, for each server and at concurrency 1 and 8 (asyncio + httpx, keep-alive, after a
   warm-up): ``/items?limit=1000&bbox=…`` over a fixed list of bboxes inside the data
   (each matching 500–950 plots, so every server returns the whole match), the same with
   ``limit=10`` (little data: the fixed cost of a request, where a gateway shows), and
   MVT tiles at z8, z11 and z14 (the same list of tiles that hold data for every server).
   Each cell runs for a fixed time and at least one pass over its URL list, in three
   rounds with the servers taking turns (the machine may be shared); it reports
   the median latency, requests per second, bytes on the wire (all three compress with
   gzip when asked, as browsers and QGIS ask) and decoded bytes per response. A server
   that needs more than ``SLOW_S`` for one request of a workload (pygeoapi's stock MVT
   query at low zoom) is not timed on it, and a statement timeout (``PGOPTIONS``, for
   the two libpq servers) stops such queries from running on for minutes;
4. prints the table and the ratios sdi ÷ pygeoapi and sdi ÷ tipg, and writes everything
   to ``benchmarks/.work/ogc_bench.json``.

Run: ``make bench`` or ``.venv/bin/python benchmarks/ogc_bench.py [--quick] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import itertools
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import ServerProcess, peers_venv
from load_bench import ROOT, WORK, make_plots

from sdi.access import add_key
from sdi.bootstrap import prepare_database
from sdi.cluster import Cluster, create_database, drop_database
from sdi.settings import Settings
from tests.conftest import free_port

DB_NAME = "sdi_ogcbench"
PEERS_VENV = WORK / "peers-venv"
LOGS = WORK / "ogc-logs"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
ZOOMS = (8, 11, 14)
LIMIT = 1000
BBOX_MATCH = (500, 950)  # plots per bbox: below the limit, so every server returns all of them
HALF_WORLD = 20037508.342789244
CONCURRENCY = (1, 8)
ROUNDS = 3
#: One request slower than this and the server is not timed on that workload.
SLOW_S = 15.0
#: Guard for runaway queries (pygeoapi's stock MVT query can take minutes per tile), given
#: to every server's connections through libpq's PGOPTIONS.
STATEMENT_TIMEOUT_S = 15


# --- database ------------------------------------------------------------------------------

def prepare(plots: int) -> tuple[str, object]:
    """The scratch database with the forest layer loaded by ``sdi layers load``."""
    url = os.environ.get("SDI_BENCH_DATABASE_URL")
    if not url:
        info = Cluster(Settings(database_url=None)).ensure_running()
        drop_database(info.url("postgres"), DB_NAME)
        create_database(info.url("postgres"), DB_NAME)
        url = info.url(DB_NAME)
    settings = Settings(database_url=url)
    url = settings.database_url  # psycopg 3 URL
    engine = prepare_database(settings)
    gpkg = make_plots(plots)
    sdi = str(Path(sys.executable).with_name("sdi"))
    t = time.perf_counter()
    result = subprocess.run([sdi, "layers", "load", "forest_plots", str(gpkg), "--if-exists", "replace"],
                            env={**os.environ, "SDI_DATABASE_URL": url}, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        sys.exit(f"sdi layers load failed:\n{result.stdout}\n{result.stderr}")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE forest_plots"))
        count = conn.execute(text("SELECT count(*) FROM forest_plots")).scalar_one()
    print(f"loaded {count:,} forest plots into {DB_NAME} with `sdi layers load` in {time.perf_counter() - t:.1f} s")
    return url, engine


def pick_bboxes(engine, n: int) -> list[tuple[float, float, float, float]]:
    """Boxes around deterministic seed plots, sized so each matches 500–950 plots."""
    boxes: list[tuple[float, float, float, float]] = []
    with engine.connect() as conn:
        seeds = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM forest_plots "
            "ORDER BY md5(plot_code) LIMIT 200) s")).all()
        for x, y in seeds:
            if len(boxes) >= n:
                break
            if any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes):
                continue
            half = 0.03
            for _ in range(10):
                box = (round(x - half, 5), round(y - half, 5), round(x + half, 5), round(y + half, 5))
                matched = conn.execute(text(
                    "SELECT count(*) FROM forest_plots "
                    "WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"),
                    dict(zip("abcd", box, strict=True))).scalar_one()
                if BBOX_MATCH[0] <= matched <= BBOX_MATCH[1]:
                    boxes.append(box)
                    break
                half *= min(2.0, max(0.5, math.sqrt(sum(BBOX_MATCH) / 2 / max(matched, 1))))
    if len(boxes) < n:
        sys.exit(f"found only {len(boxes)} bboxes matching {BBOX_MATCH} plots")
    return boxes


def pick_tiles(engine, z: int, n: int) -> list[tuple[int, int, int]]:
    """WebMercatorQuad tiles holding data: all of them at z8, else those of deterministic
    sample plots (dense tiles more often, as a map of the province asks for them)."""
    size = 2 * HALF_WORLD / 2**z
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT floor((ST_X(p) + :h) / :s)::int AS x, floor((:h - ST_Y(p)) / :s)::int AS y, "
            "md5(plot_code) AS k FROM (SELECT plot_code, ST_Transform(ST_PointOnSurface(geom), 3857) AS p "
            "FROM forest_plots) s ORDER BY k"), {"h": HALF_WORLD, "s": size}).all()
    tiles: list[tuple[int, int, int]] = []
    for x, y, _ in rows:
        if (z, x, y) not in tiles:
            tiles.append((z, x, y))
        if len(tiles) >= n:
            break
    return sorted(tiles)


# --- servers ---------------------------------------------------------------------------------

@dataclass
class Server(ServerProcess):
    name: str
    base: str
    headers: dict[str, str]
    items_url: str  # relative, with {bbox}
    tile_url: str  # relative, with {z} {x} {y}
    cmd: list[str]
    env: dict[str, str]
    cwd: Path
    proc: subprocess.Popen | None = None
    log: Path | None = None

    def start(self) -> None:
        self.launch(LOGS, self.cwd)

    def wait_ready(self, timeout: float = 180) -> None:
        probe = self.items_url.format(bbox="106.7,21.8,106.71,21.81").replace("limit=1000", "limit=1")
        self.wait_for(self.base + probe, timeout)


def ensure_peers_venv() -> Path:
    return peers_venv(PEERS_VENV, ["tipg", "uvicorn"], "tipg")


def pygeoapi_standalone_config(url: str, port: int) -> dict:
    """pygeoapi's own config for the same table: stock providers, same limits as sdi."""
    from api.ogc.config import CRS_LIST, LANGUAGES

    s = Settings(database_url=url)
    common = {"data": url, "table": "forest_plots", "id_field": "plot_code", "geom_field": "geom",
              "options": {"pool_size": 5, "max_overflow": 5}}
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": True,
            "languages": LANGUAGES,
            "cors": False,
            "pretty_print": False,
            "limits": {"default_items": s.ogc_default_items, "max_items": s.ogc_max_items, "on_exceed": "error"},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
            "admin": False,
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "pygeoapi standalone", "description": "benchmark peer",
                               "keywords": ["benchmark"], "keywords_type": "theme",
                               "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                               "url": f"http://127.0.0.1:{port}"},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "benchmark", "url": f"http://127.0.0.1:{port}"},
            "contact": {"name": "benchmark", "position": "benchmark", "address": "Lạng Sơn", "city": "Lạng Sơn",
                        "country": "Việt Nam", "url": f"http://127.0.0.1:{port}", "role": "pointOfContact"},
        },
        "resources": {
            "forest_plots": {
                "type": "collection",
                "title": "Forest plots",
                "description": "Forest plots (synthetic sample)",
                "keywords": ["forest"],
                "links": [],
                "extents": {"spatial": {"bbox": [106.0, 21.3, 107.4, 22.5], "crs": CRS84}},
                "providers": [
                    {"type": "feature", "name": "PostgreSQL", **common, "storage_crs": CRS84, "crs": CRS_LIST,
                     "count": False},
                    {"type": "tile", "name": "MVT-postgresql", **common, "storage_crs": CRS84,
                     "options": {**common["options"], "zoom": {"min": 0, "max": 22}},
                     "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"}},
                ],
            },
        },
    }


def make_servers(url: str, key: str) -> list[Server]:
    venv_bin = Path(sys.executable).parent
    peers_bin = ensure_peers_venv()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SDI_", "PYGEOAPI_", "TIPG_"))}
    base_env.pop("DATABASE_URL", None)
    base_env["PGOPTIONS"] = f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}"  # libpq: sdi and pygeoapi

    p1, p2, p3 = free_port(), free_port(), free_port()
    ours = Server(
        "sdi", f"http://127.0.0.1:{p1}", {"X-API-Key": key},
        "/ogc/collections/forest_plots/items?f=json&limit=1000&bbox={bbox}",
        "/ogc/collections/forest_plots/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt",
        [str(venv_bin / "sdi"), "serve", "--host", "127.0.0.1", "--port", str(p1)],
        # sdi sets statement_timeout itself (over PGOPTIONS): the same limit as the peers'
        {**base_env, "SDI_DATABASE_URL": url, "SDI_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_S * 1000)}, ROOT)

    folder = WORK / "pygeoapi-standalone"
    folder.mkdir(parents=True, exist_ok=True)
    cfg, oas = folder / "pygeoapi-config.yml", folder / "openapi.yml"
    cfg.write_text(yaml.safe_dump(pygeoapi_standalone_config(url, p2), allow_unicode=True, sort_keys=False))
    cfg.chmod(0o600)
    env = {**base_env, "PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oas)}
    subprocess.run([str(venv_bin / "pygeoapi"), "openapi", "generate", str(cfg), "--output-file", str(oas)],
                   env=env, check=True, capture_output=True)
    standalone = Server(
        "pygeoapi", f"http://127.0.0.1:{p2}", {},
        "/collections/forest_plots/items?f=json&limit=1000&bbox={bbox}",
        "/collections/forest_plots/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt",
        [str(venv_bin / "uvicorn"), "pygeoapi.starlette_app:APP", "--host", "127.0.0.1", "--port", str(p2),
         "--workers", "1"], env, folder)

    tipg = Server(
        "tipg", f"http://127.0.0.1:{p3}", {},
        "/collections/public.forest_plots/items?f=geojson&limit=1000&bbox={bbox}",
        "/collections/public.forest_plots/tiles/WebMercatorQuad/{z}/{x}/{y}",
        [str(peers_bin / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port", str(p3), "--workers", "1"],
        {**base_env, "DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://")},
        folder)  # not the repository root: tipg reads a .env from its working directory
    return [ours, standalone, tipg]


# --- responses -------------------------------------------------------------------------------

def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes):
    i = 0
    while i < len(buf):
        tag, i = _varint(buf, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            length, i = _varint(buf, i)
            value, i = buf[i:i + length], i + length
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield number, value


def mvt_features(tile: bytes) -> int:
    """Features in a Mapbox vector tile (all layers), without a protobuf library."""
    if tile[:2] == b"\x1f\x8b":
        tile = gzip.decompress(tile)
    return sum(1 for n, layer in _fields(tile) if n == 3 for m, _ in _fields(layer) if m == 2)


@dataclass
class Workload:
    name: str
    paths: dict[str, list[str]]  # server name → URLs (same requests, each server's syntax)
    limit: int = 0  # items: page size
    tiles: bool = False
    too_slow: dict[str, str] = field(default_factory=dict)  # server → why it was not timed
    bytes_wire: dict[str, float] = field(default_factory=dict)
    bytes_body: dict[str, float] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)


def check(servers: list[Server], workloads: list[Workload]) -> list[str]:
    """Same features from every server for every items request (else exit); tile sizes and
    feature counts recorded (they differ by design at low zoom: see the notes). A server
    that needs more than ``SLOW_S`` for one request of a workload (or hits the statement
    timeout) is not timed on that workload: that one request is its result."""
    notes: list[str] = []
    with httpx.Client(timeout=600) as client:
        for w in workloads:
            per_request: dict[str, list] = {}
            for s in servers:
                wire, body, feats, ids = [], [], [], []
                for path in w.paths[s.name]:
                    t = time.perf_counter()
                    r = client.get(s.base + path, headers=s.headers)
                    elapsed = time.perf_counter() - t
                    if r.status_code >= 500 or elapsed > SLOW_S:
                        w.too_slow[s.name] = (
                            f"HTTP {r.status_code} after {elapsed:.0f} s (statement_timeout)" if r.status_code >= 500
                            else f"{elapsed:.0f} s for one request")
                        print(f"check: {s.name} {w.name}: {w.too_slow[s.name]} on {path}; not timed", flush=True)
                        break
                    if r.status_code != 200 and not (w.tiles and r.status_code == 204):  # 204: empty tile
                        sys.exit(f"{s.name} {path}: HTTP {r.status_code}: {r.text[:500]}")
                    wire.append(r.num_bytes_downloaded)
                    body.append(len(r.content))
                    if not w.tiles:
                        doc = r.json()
                        got = sorted(str(f["id"]) for f in doc["features"])
                        if w.limit == LIMIT and len(got) >= LIMIT:
                            sys.exit(f"{s.name} {path}: a full page; the bbox list must match fewer than {LIMIT}")
                        # a full page of 10 is any 10 of the match: compare how many, not which
                        ids.append(got if w.limit == LIMIT else len(got))
                        feats.append(len(got))
                    else:
                        feats.append(mvt_features(r.content) if r.status_code == 200 else 0)
                if s.name in w.too_slow:
                    continue
                w.bytes_wire[s.name] = statistics.mean(wire)
                w.bytes_body[s.name] = statistics.mean(body)
                w.features[s.name] = statistics.mean(feats)
                per_request[s.name] = ids or feats
            done = [s.name for s in servers if s.name in per_request]
            if not w.tiles:
                if len(done) < len(servers):
                    sys.exit("a server failed the items requests: no comparison possible")
                ref = done[0]
                for other in done[1:]:
                    for i, (a, b) in enumerate(zip(per_request[ref], per_request[other], strict=True)):
                        if a != b:
                            na, nb = (x if isinstance(x, int) else len(x) for x in (a, b))
                            sys.exit(f"{w.name} request {i}: {ref} and {other} differ ({na} vs {nb} features)")
                print(f"check: {w.name}: every server returns the same "
                      f"{'features' if w.limit == LIMIT else 'number of features'} for all {len(per_request[ref])} "
                      f"requests ({statistics.mean(w.features.values()):.0f} on average)", flush=True)
            else:
                notes.append(f"{w.name}: features per tile " + "; ".join(f"{n} {per_request[n]}" for n in done))
    return notes


# --- timing ----------------------------------------------------------------------------------

@dataclass
class Cell:
    latencies: list[float]
    wall: float
    errors: int

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p90(self) -> float:
        return statistics.quantiles(self.latencies, n=10)[-1] if len(self.latencies) > 1 else self.latencies[0]

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall


async def hammer(client: httpx.AsyncClient, urls: list[str], concurrency: int, seconds: float,
                 ok: tuple[int, ...], first: int = 0, at_least: int = 0) -> Cell:
    """Requests from ``concurrency`` workers over ``urls`` (cycled from index ``first``) for
    ``seconds`` and at least ``at_least`` requests; bodies are read raw (still compressed)
    so the client decodes nothing."""
    counter = itertools.count()
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal errors
        while True:
            i = next(counter)
            if i >= at_least and time.perf_counter() >= deadline:
                return
            t = time.perf_counter()
            async with client.stream("GET", urls[(first + i) % len(urls)]) as r:
                async for _ in r.aiter_raw():
                    pass
            latencies.append(time.perf_counter() - t)
            errors += r.status_code not in ok

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Cell(latencies, time.perf_counter() - start, errors)


async def measure(server: Server, paths: list[str], concurrency: int, seconds: float, warmup: float,
                  rnd: int, rounds: int) -> Cell:
    """Round ``rnd`` of ``rounds`` of one cell: together the rounds make at least one pass
    over ``paths``, each round continuing where the last one stopped."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    ok = (200, 204) if "/tiles/" in paths[0] else (200,)  # 204: an empty tile
    async with httpx.AsyncClient(base_url=server.base, headers=server.headers, limits=limits, timeout=600) as client:
        if warmup:
            await hammer(client, paths, concurrency, warmup, ok, at_least=concurrency)
        share = math.ceil(len(paths) / rounds)
        return await hammer(client, paths, concurrency, seconds, ok, first=rnd * share, at_least=share)


# --- report ----------------------------------------------------------------------------------

def fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}"


def fmt_kb(n: float) -> str:
    return f"{n / 1024:,.0f}" if n >= 10 * 1024 else f"{n / 1024:.1f}"


def report(servers: list[Server], workloads: list[Workload], results: dict) -> str:
    names = [s.name for s in servers]
    lines = ["| request | server | p50 ms c=1 | req/s c=1 | p50 ms c=8 | req/s c=8 | KB wire | KB decoded | features |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for w in workloads:
        for n in names:
            if n in w.too_slow:
                lines.append(f"| {w.name} | {n} | not timed: {w.too_slow[n]} | | | | | | |")
                continue
            c1, c8 = results[w.name][n][1], results[w.name][n][8]
            err = f" ({c1.errors + c8.errors} errors)" if c1.errors or c8.errors else ""
            lines.append(f"| {w.name} | {n}{err} | {fmt_ms(c1.p50)} | {c1.rps:,.1f} | {fmt_ms(c8.p50)} | "
                         f"{c8.rps:,.1f} | {fmt_kb(w.bytes_wire[n])} | {fmt_kb(w.bytes_body[n])} | "
                         f"{w.features[n]:,.0f} |")
    lines += ["", "Ratios sdi ÷ peer (latency: below 1 = sdi faster; throughput: above 1 = sdi faster):", "",
              "| request | peer | p50 c=1 | p50 c=8 | req/s c=1 | req/s c=8 | bytes on the wire |",
              "|---|---|---:|---:|---:|---:|---:|"]
    ours = names[0]
    for w in workloads:
        for peer in names[1:]:
            if ours in w.too_slow or peer in w.too_slow:
                slow = ours if ours in w.too_slow else peer
                lines.append(f"| {w.name} | {peer} | {slow} not timed | | | | |")
                continue
            a, b = results[w.name][ours], results[w.name][peer]
            lines.append(f"| {w.name} | {peer} | {a[1].p50 / b[1].p50:.2f} | {a[8].p50 / b[8].p50:.2f} | "
                         f"{a[1].rps / b[1].rps:.2f} | {a[8].rps / b[8].rps:.2f} | "
                         f"{w.bytes_wire[ours] / w.bytes_wire[peer]:.2f} |")
    return "\n".join(lines)


def versions(engine, peers_bin: Path) -> str:
    from importlib.metadata import version

    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar()
    tipg = subprocess.run([str(peers_bin / "python"), "-c", "import tipg; print(tipg.__version__)"],
                          capture_output=True, text=True, check=False).stdout.strip()
    return (f"PostgreSQL {pg.split()[0]}, PostGIS {postgis}, pygeoapi {version('pygeoapi')}, tipg {tipg}, "
            f"uvicorn {version('uvicorn')}, httpx {version('httpx')}, Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run: fewer requests, 3 s per cell")
    parser.add_argument("--plots", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, help="timed seconds per cell (default 9, quick 3)")
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 9.0)
    warmup = 0.5 if args.quick else 1.5
    n_boxes, n_tiles = (4, 4) if args.quick else (8, 12)
    t_start = time.perf_counter()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the servers
    load_before = os.getloadavg()

    url, engine = prepare(args.plots)
    key = add_key(engine, f"ogcbench-{os.getpid()}-{int(time.time())}", "kiemlam", "agency")
    boxes = pick_bboxes(engine, n_boxes)
    tiles = {z: pick_tiles(engine, z, n_tiles) for z in ZOOMS}
    print(f"{len(boxes)} bboxes; tiles: " + ", ".join(f"z{z} {len(t)}" for z, t in tiles.items()))

    servers = make_servers(url, key)
    try:
        for s in servers:
            s.start()
        for s in servers:
            s.wait_ready()
        print("servers: " + ", ".join(f"{s.name} {s.base}" for s in servers))
        workloads = [
            Workload(f"items {limit}", {s.name: [s.items_url.format(bbox=",".join(map(str, b))).replace(
                f"limit={LIMIT}", f"limit={limit}") for b in boxes] for s in servers}, limit=limit)
            for limit in (LIMIT, 10)]
        for z in ZOOMS:
            workloads.append(Workload(f"tiles z{z}", {
                s.name: [s.tile_url.format(z=zz, x=x, y=y) for zz, x, y in tiles[z]] for s in servers}, tiles=True))
        notes = check(servers, workloads)
        for note in notes:
            print("note:", note)

        results: dict = {w.name: {s.name: {} for s in servers} for w in workloads}
        for w in workloads:
            for c in CONCURRENCY:
                timed = [s for s in servers if s.name not in w.too_slow]
                # Short rounds, the servers taking turns: a burst of load from anything else on
                # the machine falls on every server alike instead of on one cell.
                parts: dict[str, list[Cell]] = {s.name: [] for s in timed}
                for rnd in range(ROUNDS):
                    for s in timed:
                        parts[s.name].append(asyncio.run(measure(
                            s, w.paths[s.name], c, seconds / ROUNDS, warmup if rnd == 0 else 0, rnd, ROUNDS)))
                for s in timed:
                    cell = Cell([x for p in parts[s.name] for x in p.latencies], sum(p.wall for p in parts[s.name]),
                                sum(p.errors for p in parts[s.name]))
                    results[w.name][s.name][c] = cell
                    rounds = " ".join(f"{p.rps:.1f}" for p in parts[s.name])
                    print(f"  {w.name:<10} c={c} {s.name:<9} p50 {fmt_ms(cell.p50):>6} ms  p90 {fmt_ms(cell.p90):>6} ms"
                          f"  {cell.rps:7.1f} req/s (rounds {rounds})  n={len(cell.latencies)}  "
                          f"load {os.getloadavg()[0]:.1f}" + (f"  ERRORS {cell.errors}" if cell.errors else ""),
                          flush=True)
    finally:
        for s in servers:
            s.stop()

    table = report(servers, workloads, results)
    peers_bin = PEERS_VENV / "bin"
    print(f"\n{dt.date.today()}; {versions(engine, peers_bin)}; {len(boxes)} bboxes × limit {LIMIT}, "
          f"{', '.join(f'{len(t)} z{z}' for z, t in tiles.items())} tiles; {seconds:g} s per cell in "
          f"{ROUNDS} rounds taking turns, after {warmup:g} s warm-up; whole run {time.perf_counter() - t_start:.0f} s; "
          f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}\n")
    print(table)
    for note in notes:
        print("note:", note)
    out = {
        "too_slow": {w.name: w.too_slow for w in workloads},
        "date": str(dt.date.today()), "args": vars(args), "bboxes": boxes,
        "tiles": {f"z{z}": t for z, t in tiles.items()}, "notes": notes,
        "results": {w.name: {s: {c: {"p50": cell.p50, "p90": cell.p90, "rps": cell.rps, "n": len(cell.latencies),
                                     "errors": cell.errors} for c, cell in per.items()}
                             for s, per in results[w.name].items()} | {
                        "bytes_wire": w.bytes_wire, "bytes_body": w.bytes_body, "features": w.features}
                    for w in workloads},
    }
    (WORK / "ogc_bench.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
