"""Raster benchmark (issue 4): ingest and tiles of a large UAV orthomosaic against the usual tools.

In one run:

1. **Source**: a UAV-like RGB GeoTIFF (default 20,000 × 20,000 px, uint8, 3 bands, ~5 cm, VN-2000 /
   UTM 48N EPSG:9215, centred near 106.75°E 21.85°N in Lạng Sơn), plain tiled and uncompressed, not a
   COG. The texture is generated strip by strip (bounded memory): low-frequency brightness, fields
   (forest with shaded tree crowns, crops in rows, bare soil) and pixel noise, so that JPEG has real
   work to do. Kept under ``benchmarks/.work`` between runs (same size, same bytes).
2. **Ingest**, each as a command-line program, cold, on the same input:
   - ``sdi ingest SRC -c uav_rgb -t …`` into a scratch database (``sdi_rasterbench`` in the embedded
     cluster) and a temporary raster store (``SDI_DATABASE_URL``, ``SDI_RASTER_STORE``): checksum,
     validation, COG, statistics, footprint, COG checksum, STAC item, registration;
   - ``rio cogeo create`` with the profile ingest uses for RGB (``uav_ingest/cog.py``: JPEG YCbCr
     quality 85, 512² blocks, internal mask, ``average`` overviews, all CPUs);
   - ``gdal_translate -of COG`` (Debian's GDAL) with the same codec, quality, block size,
     overview resampling and threads.
3. **Tiles**: the ingested item served by ``sdi serve`` and the *same* COG file by
   ``titiler.application`` (``uvicorn titiler.application.main:app``, from a separate venv
   ``benchmarks/.work/raster-peers-venv``, its ``url=`` parameter naming the local file), one
   uvicorn worker each. The same fixed pseudo-random tiles at z14–z19 that lie inside the raster,
   PNG and WebP, at concurrency 1 and 8, after a warm-up pass; the servers take turns pass by pass
   so that the shared machine's load falls on both alike. p50, p95 and throughput.
4. **Floor**: rio-tiler alone, in this process, for the same tiles: ``Reader(cog).tile(x, y, z)``
   then ``render(...)`` (what both servers do per request), sequentially.

Prints a table and the ratios (ingest vs ``rio cogeo``, our tiles vs TiTiler, our overhead over
the floor) with the load average, and writes them to ``benchmarks/.work/raster_bench.json``.

Run: ``make bench`` or ``.venv/bin/python benchmarks/raster_bench.py [--quick] [--size N]
[--passes P] [--profile]``. ``--quick``: a 5,000² raster and fewer passes. ``--profile``: py-spy
(pip, in the peers venv) samples a second ``sdi serve`` during PNG passes and the hottest functions are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import rasterio
import rasterio.enums
import rasterio.warp
from pyproj import Transformer
from rasterio.transform import from_origin
from rasterio.windows import Window
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._servers import ServerProcess, peers_venv  # noqa: E402
from sdi.access import add_key  # noqa: E402
from sdi.bootstrap import prepare_database  # noqa: E402
from sdi.cluster import Cluster, create_database, drop_database  # noqa: E402
from sdi.settings import Settings  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from uav_ingest import cog as ingest_cog  # noqa: E402

WORK = ROOT / "benchmarks" / ".work"
PEERS_VENV = WORK / "raster-peers-venv"
LOGS = WORK / "raster-logs"
DB_NAME = "sdi_rasterbench"
CRS = "EPSG:9215"  # VN-2000 / UTM zone 48N
CENTRE = (106.75, 21.85)
GSD = 0.05
STRIP = 512
ZOOMS = range(14, 20)
FORMATS = ("png", "webp")
CONCURRENCY = (1, 8)


# --- 1. the source raster --------------------------------------------------------------------------

def _hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A cheap integer hash of two integer grids (uint32), for per-field and per-tree variation."""
    h = (a.astype(np.int64) * 73856093) ^ (b.astype(np.int64) * 19349663)
    h = (h * 2654435761) & 0xFFFFFFFF
    return (h ^ (h >> 15)).astype(np.uint32)


def texture(r0: int, r1: int, width: int, low: np.ndarray, low_cell: int, rng: np.random.Generator) -> np.ndarray:
    """Rows ``r0:r1`` of the orthomosaic, (3, rows, width) uint8."""
    y = np.arange(r0, r1, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    # low-frequency brightness (illumination, terrain, vignetting between photos): bilinear on a coarse grid
    gy, gx = y / low_cell, x / low_cell
    iy, ix = gy.astype(np.int32), gx.astype(np.int32)
    fy, fx = gy - iy, gx - ix
    bright = ((low[iy, ix] * (1 - fx) + low[iy, ix + 1] * fx) * (1 - fy)
              + (low[iy + 1, ix] * (1 - fx) + low[iy + 1, ix + 1] * fx) * fy)
    # fields: a rotated grid of 70 m × 45 m parcels, each forest, crop or soil
    c, s = math.cos(0.35), math.sin(0.35)
    u, v = x * c + y * s, y * c - x * s
    fh = _hash(np.floor(u / 1400), np.floor(v / 900))
    kind = fh % 10
    tint = ((fh >> 8) & 0xFF).astype(np.float32) / 255 - 0.5
    # tree crowns: one per 3.2 m cell, jittered, radius 0.8–1.2 m, lit from the north-west
    cx, cy = np.floor(x / 64), np.floor(y / 64)
    th = _hash(cx + 7, cy + 3)
    ox = (th & 0xFF).astype(np.float32) / 255 * 12 - 6
    oy = ((th >> 8) & 0xFF).astype(np.float32) / 255 * 12 - 6
    rad = 16 + ((th >> 16) & 0xFF).astype(np.float32) / 255 * 8
    dx, dy = x - (cx * 64 + 32 + ox), y - (cy * 64 + 32 + oy)
    crown = np.clip(1 - (dx * dx + dy * dy) / (rad * rad), 0, 1)
    shade = crown * (0.75 - 0.25 * (dx + dy) / (rad * 1.414))
    tree = ((th >> 24) & 0xFF).astype(np.float32) / 255 - 0.5
    rows = 0.5 + 0.5 * np.sin(v * 0.25)
    noise = rng.integers(-12, 13, size=(r1 - r0, width), dtype=np.int16).astype(np.float32)
    out = np.empty((3, r1 - r0, width), dtype=np.uint8)
    forest, crop = kind < 5, kind < 8
    for band, (under, lit, row_a, row_b, soil) in enumerate(
            ((30, 70, 105, 35, 150), (50, 120, 150, 30, 112), (28, 55, 55, 10, 82))):
        tree_col = under + shade * (lit + 25 * tree) + 10 * tint
        crop_col = row_a + row_b * rows + 30 * tint
        soil_col = soil + 40 * tint
        value = np.where(forest, tree_col, np.where(crop, crop_col, soil_col)) * bright + noise
        out[band] = np.clip(value, 0, 255)
    return out


def make_source(size: int) -> Path:
    path = WORK / f"uav_rgb_{size}.tif"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    east, north = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(*CENTRE)
    half = size * GSD / 2
    transform = from_origin(round(east - half, 2), round(north + half, 2), GSD, GSD)
    rng = np.random.default_rng(4)
    low_cell = 1024
    low = rng.uniform(0.8, 1.2, size=(size // low_cell + 3, size // low_cell + 3)).astype(np.float32)
    profile = dict(driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs=CRS, transform=transform,
                   tiled=True, blockxsize=512, blockysize=512, photometric="RGB", interleave="pixel",
                   bigtiff="IF_SAFER")
    partial = path.with_suffix(".partial.tif")
    with rasterio.open(partial, "w", **profile) as dst:
        for r0 in range(0, size, STRIP):
            r1 = min(size, r0 + STRIP)
            dst.write(texture(r0, r1, size, low, low_cell, rng), window=Window(0, r0, size, r1 - r0))
        dst.update_tags(TIFFTAG_SOFTWARE="raster_bench.py (synthetic UAV orthomosaic)")
        for band, name in enumerate(("red", "green", "blue"), start=1):
            dst.set_band_description(band, name)
    partial.rename(path)
    print(f"generated {size:,}² RGB source in {time.perf_counter() - t:.0f} s → {path} "
          f"({path.stat().st_size / 1e9:.2f} GB)")
    return path


# --- 2. ingest -------------------------------------------------------------------------------------

def bench_database() -> tuple[Settings, str]:
    info = Cluster(Settings(database_url=None)).ensure_running()
    admin = info.url("postgres")
    drop_database(admin, DB_NAME)
    create_database(admin, DB_NAME)
    settings = Settings(database_url=info.url(DB_NAME))
    prepare_database(settings)
    return settings, admin


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def ingest_commands(src: Path, out: Path) -> dict[str, list[str]]:
    venv_bin = Path(sys.executable).parent
    block, quality = str(ingest_cog.BLOCK_SIZE), str(ingest_cog.JPEG_QUALITY)  # the peers follow uav_ingest/cog.py
    return {
        "sdi ingest": [str(venv_bin / "sdi"), "ingest", str(src), "-c", "uav_rgb", "-t", "2026-11-20T09:30:00"],
        "rio cogeo create": [str(venv_bin / "rio"), "cogeo", "create", str(src), str(out / "rio_cogeo.tif"),
                             "-p", "jpeg", "--co", f"JPEG_QUALITY={quality}", "--blocksize", block,
                             "--overview-blocksize", block, "--add-mask", "--overview-resampling", "average",
                             "--threads", "ALL_CPUS", "--forward-band-tags", "-q"],
        "gdal_translate -of COG": ["gdal_translate", "-q", "-of", "COG", "-co", "COMPRESS=JPEG",
                                   "-co", f"QUALITY={quality}", "-co", f"BLOCKSIZE={block}", "-co", "OVERVIEWS=AUTO",
                                   "-co", "OVERVIEW_RESAMPLING=AVERAGE", "-co", "NUM_THREADS=ALL_CPUS",
                                   "-co", "BIGTIFF=IF_SAFER", str(src), str(out / "gdal_cog.tif")],
    }


def describe_cog(path: Path) -> str:
    with rasterio.open(path) as ds:
        masked = any(rasterio.enums.MaskFlags.per_dataset in f for f in ds.mask_flag_enums)
        return (f"{path.stat().st_size / 1e6:,.0f} MB, {ds.compression.value if ds.compression else 'none'} "
                f"{ds.photometric.value if ds.photometric else ''}, {len(ds.overviews(1))} overviews, "
                f"mask={'yes' if masked else 'no'}")


def ingest_steps(src: Path, cog: Path) -> dict[str, float]:
    """The steps of ``sdi ingest`` other than the COG conversion, timed again in this process on the
    same files (what the ingest adds to a bare ``rio cogeo create``)."""
    from rasters.store import file_sha256
    from uav_ingest import footprint, item, stats

    steps: dict[str, float] = {}
    for name, call in (("checksum source", lambda: file_sha256(src)),
                       ("COG facts", lambda: item.cog_facts(cog)),
                       ("footprint", lambda: footprint.valid_footprint(cog)),
                       ("band statistics", lambda: stats.band_statistics(cog)),
                       ("checksum COG", lambda: file_sha256(cog))):
        t = time.perf_counter()
        call()
        steps[name] = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "sdi"), "ingest", "--help"], capture_output=True,
                   check=True)
    steps["start-up (sdi ingest --help)"] = time.perf_counter() - t
    return steps


# --- 3. tiles --------------------------------------------------------------------------------------

def pick_tiles(cog: Path, per_zoom: int, seed: int = 11) -> list[tuple[int, int, int]]:
    """Up to ``per_zoom`` tiles per zoom wholly inside the raster (where the zoom has none, the
    tiles that overlap it), a fixed pseudo-random choice, shuffled together."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    with rasterio.open(cog) as ds:
        left, bottom, right, top = ds.bounds
        to_src = Transformer.from_crs("EPSG:4326", ds.crs, always_xy=True)
        lon_lat = rasterio.warp.transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    rnd = random.Random(seed)
    chosen: list[tuple[int, int, int]] = []
    for z in ZOOMS:
        near = list(tms.tiles(*lon_lat, [z]))

        def inside(t) -> bool:
            b = tms.bounds(t)
            xs, ys = to_src.transform([b.left, b.left, b.right, b.right], [b.bottom, b.top, b.bottom, b.top])
            return all(left <= xx <= right and bottom <= yy <= top for xx, yy in zip(xs, ys, strict=True))

        pool = [t for t in near if inside(t)] or near
        rnd.shuffle(pool)
        chosen += [(t.z, t.x, t.y) for t in pool[:per_zoom]]
    rnd.shuffle(chosen)
    return chosen


@dataclass
class Server(ServerProcess):
    name: str
    base: str
    headers: dict[str, str]
    tile: str  # relative URL with {z} {x} {y} {fmt}
    ready: str
    cmd: list[str]
    env: dict[str, str]
    probe: tuple[str, str] = ("GET", "/")  # a request without pixels: the cost of the path to the tile
    proc: subprocess.Popen | None = None
    log: Path | None = None

    def start(self) -> None:
        self.launch(LOGS, WORK, self.name.split()[0])

    def wait_ready(self, timeout: float = 180) -> None:
        self.wait_for(self.base + self.ready, timeout)

    def urls(self, tiles: list[tuple[int, int, int]], fmt: str) -> list[str]:
        return [self.tile.format(z=z, x=x, y=y, fmt=fmt) for z, x, y in tiles]


def ensure_peers_venv() -> Path:
    return peers_venv(PEERS_VENV, ["titiler.application", "uvicorn"], "titiler.application")


@dataclass
class Cell:
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0
    statuses: Counter = field(default_factory=Counter)

    def add(self, other: Cell) -> None:
        self.latencies += other.latencies
        self.wall += other.wall
        self.errors += other.errors
        self.statuses.update(other.statuses)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.latencies, n=20)[-1] if len(self.latencies) > 1 else self.latencies[0]

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall


async def one_pass(client: httpx.AsyncClient, urls: list[str], concurrency: int, method: str = "GET") -> Cell:
    """Every URL once, by ``concurrency`` workers; bodies read in full."""
    counter = itertools.count()
    cell = Cell()
    start = time.perf_counter()

    async def worker() -> None:
        while (i := next(counter)) < len(urls):
            t = time.perf_counter()
            r = await client.request(method, urls[i])
            cell.latencies.append(time.perf_counter() - t)
            cell.statuses[r.status_code] += 1
            cell.errors += r.status_code != 200 or (method == "GET" and not r.content)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cell.wall = time.perf_counter() - start
    return cell


async def run_cell(servers: list[Server], tiles: list[tuple[int, int, int]], fmt: str, concurrency: int,
                   passes: int, floor_pass: Callable[[], Cell] | None = None) -> dict[str, Cell]:
    """A warm-up pass each, then ``passes`` passes each, the servers (and the floor, if given) taking
    turns, in alternating order, so that the shared machine's load falls on all alike."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    clients = {s.name: httpx.AsyncClient(base_url=s.base, headers=s.headers, limits=limits, timeout=600)
               for s in servers}
    turns: list[tuple[str, Callable[[], Awaitable[Cell]]]] = [
        (s.name, lambda s=s: one_pass(clients[s.name], s.urls(tiles, fmt), concurrency)) for s in servers]
    if floor_pass is not None:
        async def floor_turn() -> Cell:
            return floor_pass()  # in this process, blocking: nothing else runs meanwhile

        turns.append((FLOOR, floor_turn))
    cells = {name: Cell() for name, _ in turns}
    try:
        for _, turn in turns:
            await turn()
        for p in range(passes):
            for name, turn in (turns if p % 2 == 0 else turns[::-1]):
                cells[name].add(await turn())
    finally:
        for c in clients.values():
            await c.aclose()
    return cells


async def run_probe(servers: list[Server], n: int, passes: int) -> dict[str, Cell]:
    """The path to a tile without the pixels, at concurrency 1: sdi ``HEAD /rasters/{id}/cog.tif`` (key,
    item lookup and access rule in the database, the route class, middleware) against titiler's
    ``/healthz`` (its middleware only)."""
    cells = {s.name: Cell() for s in servers}
    clients = {s.name: httpx.AsyncClient(base_url=s.base, headers=s.headers, timeout=600) for s in servers}
    try:
        for p in range(passes + 1):
            for s in (servers if p % 2 == 0 else servers[::-1]):
                cell = await one_pass(clients[s.name], [s.probe[1]] * n, 1, s.probe[0])
                if p:  # the first pass warms up
                    cells[s.name].add(cell)
    finally:
        for c in clients.values():
            await c.aclose()
    return cells


# --- 4. the floor ----------------------------------------------------------------------------------

FLOOR = "floor"


def floor(cog: Path, tiles: list[tuple[int, int, int]], fmt: str) -> Callable[[], Cell]:
    """A pass of rio-tiler alone: open, read the tile, encode (titiler's ``render_image``: the same
    image profile), as a server does per request."""
    from rio_tiler.io import Reader
    from rio_tiler.profiles import img_profiles
    from rio_tiler.utils import render

    driver, options = {"png": "PNG", "webp": "WEBP"}[fmt], img_profiles.get(fmt, {})  # as titiler's render_image

    def once() -> Cell:
        cell = Cell()
        start = time.perf_counter()
        for z, x, y in tiles:
            t = time.perf_counter()
            with Reader(str(cog)) as src:
                img = src.tile(x, y, z)
            body = render(img.data, img.mask, img_format=driver, **options)
            cell.latencies.append(time.perf_counter() - t)
            cell.errors += not body
        cell.wall = time.perf_counter() - start
        return cell

    return once


# --- profile ---------------------------------------------------------------------------------------

def profile_server(server: Server, tiles: list[tuple[int, int, int]], seconds: int = 30) -> str:
    """A second ``sdi serve`` under py-spy (as its child: attaching to a running process is refused
    here) while PNG tiles are requested at concurrency 1; the functions with the most samples."""
    spy = shutil.which("py-spy", path=str(PEERS_VENV / "bin")) or shutil.which("py-spy")
    if spy is None:
        subprocess.run([str(PEERS_VENV / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", "py-spy"], check=False)
        spy = shutil.which("py-spy", path=str(PEERS_VENV / "bin"))
    if spy is None:
        return "py-spy could not be installed: no profile"
    out = LOGS / "sdi-profile.txt"
    out.unlink(missing_ok=True)
    port = free_port()
    cmd = [c if c != server.base.rsplit(":", 1)[1] else str(port) for c in server.cmd]
    prof = Server("sdi-profiled", f"http://127.0.0.1:{port}", server.headers, server.tile, server.ready,
                  [spy, "record", "-r", "100", "--idle", "-f", "raw", "-o", str(out), "--", *cmd], server.env)
    prof.start()
    try:
        prof.wait_ready()

        async def hammer() -> None:
            async with httpx.AsyncClient(base_url=prof.base, headers=prof.headers, timeout=600) as client:
                await one_pass(client, prof.urls(tiles, "png"), 1)  # warm-up
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    cell = await one_pass(client, prof.urls(tiles, "png"), 1)
                    done.append(len(cell.latencies))

        done: list[int] = []

        asyncio.run(hammer())
    finally:
        # SIGINT to py-spy alone: it stops sampling, writes the file and ends the server
        os.kill(prof.proc.pid, signal.SIGINT)
        try:
            prof.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        prof.stop()
    if not out.exists():
        return f"py-spy wrote nothing; see {prof.log}"
    return summarise_profile(out, seconds, sum(done))


def summarise_profile(out: Path, seconds: int, requests: int) -> str:
    """The hottest functions of a py-spy raw profile (busy samples), and the wall clock per request
    of the database lookups and of the tile itself (idle samples included)."""
    own: Counter = Counter()
    incl: Counter = Counter()
    wall: Counter = Counter()  # samples, idle included, of the request's own work, by part
    total = 0
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        if any(k in stack for k in STARTUP_FRAMES):
            continue
        for part, marker in WALL_PARTS:
            if marker in stack:
                wall[part] += int(n)
                break  # imports, the app factory, FastAPI's one-time route table on the first request
        frames = [_frame(f) for f in stack.split(";")]
        if frames and frames[-1].endswith(("select", "_run_once", "Runner.run", "wait", "acquire", "_worker")):
            continue  # the event loop or an idle worker thread waiting
        count = int(n)
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    lines = [f"py-spy (100 Hz), sdi serve, {seconds} s of PNG tiles at concurrency 1 after the startup; "
             f"{total} busy samples ({out})", "  inclusive share of busy samples:"]
    lines += [f"    {n / total:6.1%}  {f}" for f, n in incl.most_common(60)
              if not f.startswith(("threading.py", "<frozen")) and "asyncio/" not in f][:35]
    lines += ["  own time:"] + [f"    {n / total:6.1%}  {f}" for f, n in own.most_common(15)]
    lines += [f"  wall clock per request, idle waits included (py-spy --idle, 10 ms a sample, {requests} tiles): "
              + ", ".join(f"{part} {wall[part] * 10 / max(requests, 1):.1f} ms" for part, _ in WALL_PARTS)]
    lines += ["  the project's own code (inclusive):"] + [
        f"    {n / total:6.1%}  {f}" for f, n in incl.most_common()
        if f.startswith(("tiles/", "api/", "sdi/", "rasters/", "uav_ingest/")) and not f.startswith("sdi/cli/")][:15]
    return "\n".join(lines)


WALL_PARTS = (("item lookup in the database (rasters/items.py:find_item)", "find_item ("),
              ("key check in the database (sdi/access.py:authenticate)", "authenticate ("),
              ("tile read + encode (titiler TilerFactory.tile, rio-tiler)", "TilerFactory.tile.<locals>.tile ("))
STARTUP_FRAMES = ("importlib", "create_app", "lifespan", "effective_candidates", "effective_low_priority")


def _frame(frame: str) -> str:
    """``func (path/to/file.py:12)`` → ``file.py:func`` relative to site-packages or the repository."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{where}:{name}"


# --- report ----------------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    v = seconds * 1000
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def loadavg() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 5,000² raster and fewer passes")
    parser.add_argument("--size", type=int, help="raster edge in pixels (default 20,000; --quick 5,000)")
    parser.add_argument("--per-zoom", type=int, default=12, help="tiles per zoom level (z14–z19)")
    parser.add_argument("--passes", type=int, help="measured passes over the tiles per cell (default 3; --quick 1)")
    parser.add_argument("--repeat", type=int, help="runs of each ingest command (default 2; --quick 1)")
    parser.add_argument("--profile", action="store_true", help="py-spy profile of sdi serve during PNG tiles")
    parser.add_argument("--keep", action="store_true", help="keep the COGs, store and scratch database")
    args = parser.parse_args()
    size = args.size or (5_000 if args.quick else 20_000)
    passes = args.passes or (1 if args.quick else 3)
    repeat = args.repeat or (1 if args.quick else 2)
    started = time.perf_counter()
    loads = {"start": loadavg()}
    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; load average {loads['start']} (1/5/15 min), "
          f"{os.cpu_count()} CPUs")

    src = make_source(size)
    peers_bin = ensure_peers_venv()
    settings, admin = bench_database()
    engine = prepare_database(settings)
    store = Path(tempfile.mkdtemp(prefix="raster-store-", dir=WORK))
    out = Path(tempfile.mkdtemp(prefix="raster-out-", dir=WORK))
    env = {**os.environ, "SDI_DATABASE_URL": settings.database_url, "SDI_RASTER_STORE": str(store),
           "GDAL_TIFF_INTERNAL_MASK": "YES", "SDI_RATE_LIMITS": "{}"}  # throughput, not the rate limiter
    servers: list[Server] = []
    try:
        # 2. ingest
        commands = ingest_commands(src, out)
        runs: dict[str, list[float]] = {name: [] for name in commands}
        for r in range(repeat):
            if r:  # the same file again: a new ingest, not "already ingested"
                with engine.begin() as conn:
                    conn.execute(text("DELETE FROM raster_items"))
                for child in [*store.iterdir(), *out.iterdir()]:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            for name in (list(commands) if r % 2 == 0 else list(commands)[::-1]):  # order alternates
                runs[name].append(timed(commands[name], env))
                print(f"  {name:<24} {runs[name][-1]:7.1f} s   load {loadavg()}")
        ingest = {name: statistics.median(values) for name, values in runs.items()}
        loads["after ingest"] = loadavg()
        with engine.connect() as conn:
            item_id, href = conn.execute(text("SELECT id, href FROM raster_items WHERE collection_id = 'uav_rgb' "
                                              "AND status = 'ready'")).one()
        cog = store / href
        outputs = {"sdi ingest": describe_cog(cog), "rio cogeo create": describe_cog(out / "rio_cogeo.tif"),
                   "gdal_translate -of COG": describe_cog(out / "gdal_cog.tif")}

        steps = ingest_steps(src, cog)
        print("  ingest steps besides the COG: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))

        # 3. tiles
        tiles = pick_tiles(cog, args.per_zoom)
        per_zoom = Counter(z for z, _, _ in tiles)
        key = add_key(engine, f"rasterbench-{os.getpid()}", "kiemlam", "agency")
        p1, p2 = free_port(), free_port()
        servers = [
            Server("sdi serve", f"http://127.0.0.1:{p1}", {"X-API-Key": key},
                   f"/rasters/{item_id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.{{fmt}}", f"/rasters/{item_id}/info",
                   [str(Path(sys.executable).parent / "sdi"), "serve", "--host", "127.0.0.1", "--port", str(p1)],
                   env, ("HEAD", f"/rasters/{item_id}/cog.tif")),
            Server("titiler.application", f"http://127.0.0.1:{p2}", {},
                   f"/cog/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}.{{fmt}}?url={quote(str(cog))}",
                   f"/cog/info?url={quote(str(cog))}",
                   [str(peers_bin / "uvicorn"), "titiler.application.main:app", "--host", "127.0.0.1",
                    "--port", str(p2), "--workers", "1"],
                   {k: v for k, v in os.environ.items() if not k.startswith(("SDI_", "GDAL_"))}, ("GET", "/healthz")),
        ]
        for s in servers:
            s.start()
        for s in servers:
            s.wait_ready()
        results: dict[tuple[str, int], dict[str, Cell]] = {}
        floors: dict[str, Cell] = {}
        for fmt in FORMATS:
            for conc in CONCURRENCY:
                floor_pass = floor(cog, tiles, fmt) if conc == 1 else None
                results[fmt, conc] = asyncio.run(run_cell(servers, tiles, fmt, conc, passes, floor_pass))
                if floor_pass:
                    floors[fmt] = results[fmt, conc].pop(FLOOR)
                print(f"  tiles {fmt} c{conc}: " + ", ".join(
                    f"{n} p50 {ms(c.p50)} ms {c.rps:.1f}/s" for n, c in results[fmt, conc].items())
                    + f"   load {loadavg()}")
        probes = asyncio.run(run_probe(servers, len(tiles), passes))
        print("  no pixels: " + ", ".join(f"{n} p50 {ms(c.p50)} ms" for n, c in probes.items()))
        loads["after tiles"] = loadavg()
        prof = profile_server(servers[0], tiles) if args.profile else None
    finally:
        for s in servers:
            s.stop()

    # report
    peer_versions = subprocess.run(
        [str(peers_bin / "python"), "-c", "import importlib.metadata as m, rasterio; "
         "print(m.version('titiler.application'), m.version('rio-tiler'), rasterio.__gdal_version__)"],
        capture_output=True, text=True, check=True).stdout.split()
    gdal = subprocess.run(["gdal_translate", "--version"], capture_output=True, text=True).stdout.strip()
    import rio_tiler

    lines = [
        f"{dt.date.today()}; {size:,} × {size:,} px RGB uint8 ({size * GSD:,.0f} m at {GSD * 100:.0f} cm, {CRS}), "
        f"source {src.stat().st_size / 1e9:.2f} GB uncompressed tiled GeoTIFF; {os.cpu_count()} CPUs; "
        f"load average {loads['start']} at start, {loads['after ingest']} after ingest, "
        f"{loads['after tiles']} after tiles",
        f"sdi: rasterio {rasterio.__version__} (GDAL {rasterio.__gdal_version__}), rio-cogeo {version('rio-cogeo')}, "
        f"rio-tiler {rio_tiler.__version__}, titiler.core {version('titiler.core')}, uvicorn {version('uvicorn')}; "
        f"peer: titiler.application {peer_versions[0]} (rio-tiler {peer_versions[1]}, GDAL {peer_versions[2]}); "
        f"{gdal}; Python {platform.python_version()}",
        "",
        f"Ingest ({repeat} command-line run(s) of each, same input, order alternating between runs):",
        "",
        "| command | median | runs | Mpx/s | sdi ÷ this | output |",
        "|---|---:|---|---:|---:|---|",
    ]
    for name, secs in ingest.items():
        lines.append(f"| `{name}` | {secs:.1f} s | {', '.join(f'{v:.1f}' for v in runs[name])} | "
                     f"{size * size / secs / 1e6:.1f} | "
                     f"{ingest['sdi ingest'] / secs:.2f} | {outputs[name]} |")
    lines += ["", "Steps of `sdi ingest` besides the COG, timed again in-process on the same files: "
              + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()) + f" (together {sum(steps.values()):.1f} s)"]
    lines += [
        "",
        f"Tiles: {len(tiles)} tiles inside the raster ({', '.join(f'z{z}: {n}' for z, n in sorted(per_zoom.items()))}),"
        f" one warm-up pass then {passes} measured passes per cell, servers (and at concurrency 1 the floor) "
        "taking turns; one uvicorn worker each; ms per tile; floor = rio-tiler in the benchmark's process, "
        "sequential:",
        "",
        "| format | concurrency | server | p50 | p95 | tiles/s | sdi p50 ÷ this | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    summary: dict = {"size": size, "ingest": ingest, "ingest_runs": runs, "ingest_steps": steps, "loads": loads,
                     "tiles": len(tiles), "cells": {}}
    for fmt in FORMATS:
        f = floors[fmt]
        for conc in CONCURRENCY:
            cells = results[fmt, conc]
            ours = cells["sdi serve"]
            for name, c in cells.items():
                lines.append(f"| {fmt.upper()} | {conc} | {name} | {ms(c.p50)} | {ms(c.p95)} | {c.rps:.1f} | "
                             f"{ours.p50 / c.p50:.2f} | {c.errors} |")
                summary["cells"][f"{fmt} c{conc} {name}"] = {"p50": c.p50, "p95": c.p95, "rps": c.rps,
                                                           "errors": c.errors, "statuses": dict(c.statuses)}
        lines.append(f"| {fmt.upper()} | 1 | floor: `Reader.tile` + `render` | {ms(f.p50)} | {ms(f.p95)} | "
                     f"{f.rps:.1f} | {results[fmt, 1]['sdi serve'].p50 / f.p50:.2f} | {f.errors} |")
        summary["cells"][f"{fmt} floor"] = {"p50": f.p50, "p95": f.p95, "rps": f.rps}
    lines += ["", "The path to a tile without its pixels (concurrency 1, same passes): "
              + "; ".join(f"{n} `{s.probe[0]} {s.probe[1].split('?')[0]}` p50 {ms(probes[n].p50)} ms, p95 "
                          f"{ms(probes[n].p95)} ms" for n, s in ((s.name, s) for s in servers))]
    summary["probes"] = {n: {"p50": c.p50, "p95": c.p95} for n, c in probes.items()}
    lines += ["", "Ratios:",
              f"- ingest: sdi ingest ÷ rio cogeo create = {ingest['sdi ingest'] / ingest['rio cogeo create']:.2f} "
              f"(goal ≤ 1); ÷ gdal_translate -of COG = {ingest['sdi ingest'] / ingest['gdal_translate -of COG']:.2f}"]
    for fmt in FORMATS:
        for conc in CONCURRENCY:
            ours, peer = results[fmt, conc]["sdi serve"], results[fmt, conc]["titiler.application"]
            lines.append(f"- {fmt.upper()} c{conc}: sdi ÷ titiler p50 {ours.p50 / peer.p50:.2f}, p95 "
                         f"{ours.p95 / peer.p95:.2f}, throughput titiler ÷ sdi {peer.rps / ours.rps:.2f} (goal ≤ 1)")
        ours, f = results[fmt, 1]["sdi serve"], floors[fmt]
        lines.append(f"- {fmt.upper()} server overhead over the floor (c1 p50): {ours.p50 / f.p50 - 1:+.0%} "
                     f"({ms(ours.p50 - f.p50)} ms per tile; goal ≤ +20%); titiler "
                     f"{results[fmt, 1]['titiler.application'].p50 / f.p50 - 1:+.0%}")
    lines.append(f"\ntotal run {time.perf_counter() - started:.0f} s")
    report = "\n".join(lines)
    print("\n" + report)
    if prof:
        print("\n" + prof)
    summary["report"] = report
    summary["profile"] = prof
    (WORK / "raster_bench.json").write_text(json.dumps(summary, indent=1))

    if not args.keep:
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
        engine.dispose()
        drop_database(admin, DB_NAME)


if __name__ == "__main__":
    main()
