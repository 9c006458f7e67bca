"""Two checkouts of the project, the same requests, interleaved: is one slower than the other?

The peer benchmarks (``ogc_bench.py``, ``raster_bench.py``) compare the project with other servers;
this one compares the project with itself at another commit, for changes that should cost nothing
(a refactor, a new access door). Both servers run at once, on one database and one raster store;
requests alternate between them (A B, then B A, round after round), so whatever else the machine
is doing falls on both alike. One client, one request at a time: the per-request cost is what a
refactor can change.

1. a scratch database ``sdi_bench_ab`` in the embedded cluster (or ``SDI_BENCH_DATABASE_URL``): the
   bundled layers (``sdi up``'s loader), an API key, and one synthetic 4,096² RGB orthophoto
   ingested with ``sdi ingest`` into a scratch store;
2. ``sdi serve`` from this checkout and from ``--baseline`` (another checkout, e.g.
   ``git worktree add /tmp/base <commit>``: its code is run with this venv, through PYTHONPATH);
3. workloads, each a fixed list of URLs: OGC items (limit 100, bbox, with the key), vector tiles
   (z14), raster tiles (z17, PNG), a STAC search, the layer list; p50 and p90 per server, and the
   ratio this ÷ baseline with its spread over the rounds;
4. the per-request cost of the dynamic catalogue on this checkout: the same 20,000 forest plots
   published again as a layer (``forest_plots_dynamic``, through ``layers.publish.create_layer``, the
   path of ``POST /layers``), and OGC items and z14 tiles of the bundled layer and of the published copy,
   interleaved on the same server: the ratio dynamic ÷ bundled.

Run: ``.venv/bin/python benchmarks/ab_bench.py --baseline /tmp/base [--rounds R]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import morecantile
import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from _servers import ServerProcess  # noqa: E402

from layers.catalog import get_layer, load_catalog  # noqa: E402
from layers.export import export_layer  # noqa: E402
from layers.publish import create_layer  # noqa: E402
from sdi.access import add_key  # noqa: E402
from sdi.bootstrap import bring_up  # noqa: E402
from sdi.cluster import Cluster, create_database, drop_database  # noqa: E402
from sdi.settings import Settings  # noqa: E402
from tests.conftest import free_port  # noqa: E402

WORK = ROOT / "benchmarks" / ".work" / "ab"
DB_NAME = "sdi_bench_ab"
CENTRE = (106.76, 21.85)  # lon/lat, Lạng Sơn city: inside the province, with forest plots around
RASTER_SIZE = 4096
DYNAMIC = "forest_plots_dynamic"  # the bundled forest plots published again through the publish path


@dataclass
class Server(ServerProcess):
    name: str
    base: str
    cmd: list[str]
    env: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    log: Path | None = None


def prepare() -> tuple[Settings, str, str, list[tuple[float, float]]]:
    """The scratch database and store with the bundled layers, a key and one ingested raster."""
    url = os.environ.get("SDI_BENCH_DATABASE_URL")
    if not url:
        info = Cluster(Settings(database_url=None)).ensure_running()
        drop_database(info.url("postgres"), DB_NAME)
        create_database(info.url("postgres"), DB_NAME)
        url = info.url(DB_NAME)
    store = WORK / "store"
    if store.exists():
        subprocess.run(["rm", "-rf", str(store)], check=True)
    settings = Settings(database_url=url, raster_store=str(store), forest_sample_target=20_000)
    t = time.perf_counter()
    engine, _ = bring_up(settings)
    key = add_key(engine, f"ab-bench-{os.getpid()}", "kiemlam", "admin")
    source = _raster()
    env = {**os.environ, "SDI_DATABASE_URL": url, "SDI_RASTER_STORE": str(store)}
    subprocess.run([str(Path(sys.executable).with_name("sdi")), "ingest", str(source), "--collection", "uav_rgb",
                    "--datetime", "2026-11-30"], env=env, check=True, capture_output=True)
    with engine.connect() as conn:
        item = conn.execute(text("SELECT id FROM raster_items WHERE status = 'ready' LIMIT 1")).scalar_one()
        plots = [tuple(r) for r in conn.execute(text(  # deterministic plots: where the items and tiles hold data
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM forest_plots "
            "ORDER BY md5(plot_code) LIMIT 9"))]
    copy = WORK / "forest_plots.gpkg"
    export_layer(engine, get_layer(load_catalog(engine), "forest_plots"), copy, overwrite=True)
    create_layer(copy, DYNAMIC, engine=engine, settings=settings, title_vi="Lô rừng (bản công bố)",
                 title_en="Forest plots (published copy)", owner="kiemlam", access_level="internal", key="plot_code")
    engine.dispose()
    print(f"prepared {DB_NAME} (bundled layers, {DYNAMIC}, a key, raster {item}) in {time.perf_counter() - t:.0f} s")
    return settings, key, item, plots


def _raster() -> Path:
    """A 4,096² RGB orthophoto at 0.1 m around CENTRE (VN-2000 / TM-3 107°15′)."""
    path = WORK / f"rgb_{RASTER_SIZE}.tif"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    east, north = Transformer.from_crs("EPSG:4326", "EPSG:9215", always_xy=True).transform(*CENTRE)
    rng = np.random.default_rng(7)
    data = rng.integers(30, 200, size=(3, RASTER_SIZE, RASTER_SIZE), dtype=np.uint8)
    profile = dict(driver="GTiff", width=RASTER_SIZE, height=RASTER_SIZE, count=3, dtype="uint8", crs="EPSG:9215",
                   transform=from_origin(east - 204.8, north + 204.8, 0.1, 0.1), tiled=True, photometric="RGB")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


#: one comparison: a workload, its two sides (label, server name, paths), ratio = first ÷ second
Comparison = tuple[str, list[tuple[str, str, list[str]]]]


def _items(layer: str, boxes: list[str]) -> list[str]:
    return [f"/ogc/collections/{layer}/items?f=json&limit=100&bbox={b}" for b in boxes]


def _tiles(layer: str, tiles: list) -> list[str]:
    return [f"/ogc/collections/{layer}/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}?f=mvt" for t in tiles]


def workloads(item: str, plots: list[tuple[float, float]]) -> list[Comparison]:
    lon, lat = CENTRE
    tms = morecantile.tms.get("WebMercatorQuad")
    boxes = [f"{x - 0.01:.4f},{y - 0.01:.4f},{x + 0.01:.4f},{y + 0.01:.4f}" for x, y in plots]
    vt = [tms.tile(x, y, 14) for x, y in plots]
    rt = [tms.tile(lon + dx, lat + dy, 17) for dx in (-0.001, 0.0, 0.001) for dy in (-0.001, 0.0, 0.001)]

    def ab(paths: list[str]) -> list[tuple[str, str, list[str]]]:
        return [("this", "this", paths), ("baseline", "baseline", paths)]

    def dynamic(fixed: list[str], published: list[str]) -> list[tuple[str, str, list[str]]]:
        return [("dynamic", "this", published), ("bundled", "this", fixed)]

    return [
        ("OGC items limit=100, bbox, key", ab(_items("forest_plots", boxes))),
        ("vector tiles z14", ab(_tiles("forest_plots", vt))),
        ("raster tiles z17 PNG", ab([f"/rasters/{item}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png" for t in rt])),
        ("STAC search", ab(["/stac/search?limit=10", "/stac/search?collections=uav_rgb&limit=5"])),
        ("layer list (/layers)", ab(["/layers"])),
        ("OGC items: dynamic ÷ bundled (this)", dynamic(_items("forest_plots", boxes), _items(DYNAMIC, boxes))),
        ("vector tiles z14: dynamic ÷ bundled (this)", dynamic(_tiles("forest_plots", vt), _tiles(DYNAMIC, vt))),
    ]


Timings = dict[str, dict[str, list[float]]]  # workload → side → milliseconds


def run(servers: list[Server], comparisons: list[Comparison], rounds: int) -> tuple[Timings, Timings]:
    """Every request's time, and each round's median, per workload and side."""
    times: Timings = {w: {label: [] for label, _, _ in sides} for w, sides in comparisons}
    per_round: Timings = {w: {label: [] for label, _, _ in sides} for w, sides in comparisons}
    clients = {s.name: httpx.Client(base_url=s.base, headers=s.headers, timeout=60) for s in servers}
    for workload, sides in comparisons:
        for _, server, paths in sides:  # warm-up: caches, first PROJ transformer, pygeoapi view
            for path in paths:
                clients[server].get(path).raise_for_status()
        for r in range(rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            got: dict[str, list[float]] = {label: [] for label, _, _ in sides}
            for i in range(len(sides[0][2])):
                for label, server, paths in order:
                    t = time.perf_counter()
                    resp = clients[server].get(paths[i])
                    elapsed = (time.perf_counter() - t) * 1000
                    if resp.status_code != 200:
                        sys.exit(f"{label} {paths[i]}: {resp.status_code} {resp.text[:300]}")
                    got[label].append(elapsed)
            for label, values in got.items():
                times[workload][label] += values
                per_round[workload][label].append(statistics.median(values))
    for c in clients.values():
        c.close()
    return times, per_round


def _p90(values: list[float]) -> float:
    return float(np.percentile(values, 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout of the project")
    parser.add_argument("--rounds", type=int, default=12, help="rounds per workload (default 12)")
    args = parser.parse_args()
    baseline = args.baseline.resolve()
    if not (baseline / "sdi" / "settings.py").is_file():
        sys.exit(f"{baseline} is not a checkout of the project")
    settings, key, item, plots = prepare()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SDI_", "PYGEOAPI_"))}
    base_env.update(SDI_DATABASE_URL=str(settings.database_url), SDI_RASTER_STORE=settings.raster_store,
                    SDI_LOG_LEVEL="WARNING")
    sdi = str(Path(sys.executable).with_name("sdi"))
    servers = []
    for name, tree in (("this", ROOT), ("baseline", baseline)):
        port = free_port()
        env = {**base_env, "SDI_PORT": str(port), "SDI_STATE_DIR": str(WORK / f"state-{name}")}
        if tree != ROOT:
            env["PYTHONPATH"] = str(tree)  # the baseline's packages before this checkout's (editable) ones
        servers.append(Server(name, f"http://127.0.0.1:{port}", [sdi, "serve", "--port", str(port)], env,
                              {"X-API-Key": key}))
    trees = (ROOT, baseline)
    commit = {s.name: subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                                     text=True).stdout.strip() for s, tree in zip(servers, trees, strict=True)}
    try:
        for s, tree in zip(servers, trees, strict=True):
            s.launch(WORK / "logs", tree)
        for s in servers:
            s.wait_for(s.base + "/health")
        t = time.perf_counter()
        times, rounds = run(servers, workloads(item, plots), args.rounds)
    finally:
        for s in servers:
            s.stop()
    print(f"\nA/B on {platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"{args.rounds} rounds, {time.perf_counter() - t:.0f} s; this = {commit['this']}, "
          f"baseline = {commit['baseline']}")
    print(f"{'workload':<44} {'A':>8} {'A p50':>7} {'B':>8} {'B p50':>7} {'A p90':>7} {'B p90':>7} "
          f"{'A÷B':>6} {'rounds (min–max)':>17}")
    for workload, by in times.items():
        (na, a), (nb, b) = by.items()
        ratios = [x / y for x, y in zip(rounds[workload][na], rounds[workload][nb], strict=True)]
        print(f"{workload:<44} {na:>8} {statistics.median(a):7.1f} {nb:>8} {statistics.median(b):7.1f} "
              f"{_p90(a):7.1f} {_p90(b):7.1f} {statistics.median(a) / statistics.median(b):6.2f} "
              f"{min(ratios):8.2f}–{max(ratios):.2f}")


if __name__ == "__main__":
    main()
