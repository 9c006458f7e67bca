"""Publishing benchmark: ``POST /layers`` against ``ogr2ogr -f PostgreSQL -overwrite`` on the same file.

The same GeoPackage of generated forest-plot polygons (``load_bench.make_plots``, default 100,000)
goes, in turns, through

- ``POST /layers`` to a running ``sdi serve`` (the file streamed up, the schema inferred, the table
  ``published.<id>`` created with its GIST index and VN-2000 area, every row validated — geometry
  repaired, inside the province, keys — and the catalogue row, all in one transaction);
- ``ogr2ogr -f PostgreSQL -overwrite`` into a new table with a GIST index (GDAL's fastest path; no
  validation, nothing served) into the same database.

After each upload the benchmark times how long the new layer takes to answer its first OGC items page
and its first vector tile (the door re-reads the catalogue within a second). Printed: the medians,
the ratio (goal ≤ 1.5), and the first-answer times (goal ≤ 1 s).

Run: ``.venv/bin/python benchmarks/publish_bench.py [--plots N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import morecantile
import pyogrio
from sqlalchemy import MetaData, Table, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))

from ab_bench import Server
from load_bench import ROOT, WORK, bench_database, make_plots, timed

from sdi.access import add_key
from sdi.bootstrap import prepare_database
from tests.conftest import free_port


def _first_answer(url: str, headers: dict, timeout: float = 30.0) -> float:
    """Seconds until ``url`` first answers 200 (asked every 20 ms)."""
    t = time.perf_counter()
    while time.perf_counter() - t < timeout:
        if httpx.get(url, headers=headers, timeout=30).status_code == 200:
            return time.perf_counter() - t
        time.sleep(0.02)
    return float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plots", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gpkg = make_plots(args.plots)
    count = pyogrio.read_info(gpkg)["features"]
    settings = bench_database()
    engine = prepare_database(settings)
    key = add_key(engine, f"publish-bench-{os.getpid()}", "kiemlam", "agency")
    url = make_url(settings.database_url)
    pg = f"PG:host={url.host} port={url.port} dbname={url.database} user={url.username} password={url.password}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SDI_", "PYGEOAPI_"))}
    env.update(SDI_DATABASE_URL=str(settings.database_url), SDI_LOG_LEVEL="WARNING", SDI_RATE_LIMITS="{}",
               SDI_STATE_DIR=str(WORK / "publish-state"))
    server = Server("sdi", f"http://127.0.0.1:{port}", [str(Path(sys.executable).with_name("sdi")), "serve",
                    "--port", str(port)], env, {"X-API-Key": key})
    server.launch(WORK / "logs", ROOT)
    server.wait_for(server.base + "/health")

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM layers WHERE id = 'lo_rung_bench'"))
            Table("lo_rung_bench", MetaData(), schema="published").drop(conn, checkfirst=True)
            conn.execute(text("DROP TABLE IF EXISTS ogr2ogr_publish"))

    runs: dict[str, list[float]] = {"POST /layers": [], "ogr2ogr -overwrite (new table)": []}
    first_items: list[float] = []
    first_tile: list[float] = []
    where = pyogrio.read_dataframe(gpkg, max_features=1).to_crs(4326).geometry.iloc[0].representative_point()
    tile = morecantile.tms.get("WebMercatorQuad").tile(where.x, where.y, 14)  # a tile that holds a plot
    try:
        for i in range(args.repeat):
            drop()
            t = time.perf_counter()
            with gpkg.open("rb") as fh:
                resp = httpx.post(f"{server.base}/layers", headers=server.headers, timeout=900,
                                  files={"file": (gpkg.name, fh)},
                                  data={"id": "lo_rung_bench", "title_vi": "Lô rừng (thử tải)", "access": "public",
                                        "key": "plot_code"})
            runs["POST /layers"].append(time.perf_counter() - t)
            if resp.status_code != 201:
                sys.exit(f"POST /layers: {resp.status_code} {resp.text[:2000]}")
            assert resp.json()["report"]["counts"]["inserted"] == count
            items = f"{server.base}/ogc/collections/lo_rung_bench/items?f=json&limit=100"
            first_items.append(_first_answer(items, server.headers))
            first_tile.append(_first_answer(f"{server.base}/ogc/collections/lo_rung_bench/tiles/WebMercatorQuad/"
                                            f"{tile.z}/{tile.y}/{tile.x}?f=mvt", server.headers))
            drop()
            runs["ogr2ogr -overwrite (new table)"].append(timed(
                ["ogr2ogr", "-f", "PostgreSQL", pg, str(gpkg), "forest_plots", "-overwrite", "-nln", "ogr2ogr_publish",
                 "-nlt", "PROMOTE_TO_MULTI", "-lco", "GEOMETRY_NAME=geom", "-lco", "SPATIAL_INDEX=GIST"],
                {**os.environ, "PG_USE_COPY": "YES"}))
            print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items())
                  + f"; first items page {first_items[-1]:.2f} s, first tile {first_tile[-1]:.2f} s after the upload")
    finally:
        drop()
        server.stop()
    gdal = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    ours, peer = statistics.median(runs["POST /layers"]), statistics.median(runs["ogr2ogr -overwrite (new table)"])
    print(f"\n{count:,} polygons, GeoPackage {gpkg.stat().st_size / 1e6:.0f} MB; {gdal}; median of {args.repeat}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  POST /layers                    {ours:7.2f} s  {count / ours:9,.0f} features/s")
    print(f"  ogr2ogr -overwrite (new table)  {peer:7.2f} s  {count / peer:9,.0f} features/s")
    print(f"  ratio POST /layers ÷ ogr2ogr    {ours / peer:7.2f}  (goal ≤ 1.5)")
    print(f"  first items page after the upload: median {statistics.median(first_items):.2f} s, first tile "
          f"{statistics.median(first_tile):.2f} s (goal ≤ 1 s)")


if __name__ == "__main__":
    main()
