"""Load benchmark: `sdi layers load` against `ogr2ogr -f PostgreSQL` on the same data.

Generates 100,000 forest-plot polygons into a GeoPackage, then loads it into the same
PostGIS database (a scratch database ``sdi_bench`` in the embedded cluster, or
``SDI_BENCH_DATABASE_URL``) with both tools, several times each, and prints the medians
and the ratio. Both run as command-line programs, cold, as a user would run them:

- ``sdi layers load forest_plots plots.gpkg`` — validation (geometry, province, keys,
  required columns), CRS transform, COPY staging, upsert, statistics, load log;
- ``ogr2ogr -append`` into the same empty ``forest_plots`` table (same indexes and the
  same generated area column) — GDAL's standard loader, no validation;
- ``ogr2ogr -overwrite`` into a new table — GDAL's fastest path (table created by GDAL).

Run: ``make bench`` or ``.venv/bin/python benchmarks/load_bench.py [--plots N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyogrio
from sqlalchemy import make_url, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from layers import forest_sample  # noqa: E402
from sdi.bootstrap import prepare_database  # noqa: E402
from sdi.cluster import Cluster, create_database  # noqa: E402
from sdi.settings import Settings  # noqa: E402

WORK = ROOT / "benchmarks" / ".work"


def make_plots(n: int) -> Path:
    path = WORK / f"forest_plots_{n}.gpkg"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        frame = forest_sample.generate_forest_plots(
            **forest_sample.load_inputs(ROOT / "data"), target=n, seed=7)
        pyogrio.write_dataframe(frame, path, layer="forest_plots", driver="GPKG")
        print(f"generated {len(frame):,} plots in {time.perf_counter() - t:.1f} s → {path}")
    return path


def bench_database() -> Settings:
    url = os.environ.get("SDI_BENCH_DATABASE_URL")
    if not url:
        info = Cluster(Settings(database_url=None)).ensure_running()
        create_database(info.url("postgres"), "sdi_bench")
        url = info.url("sdi_bench")
    settings = Settings(database_url=url)
    prepare_database(settings)
    return settings


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    if result.returncode != 0:
        sys.exit(f"{cmd[0]} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plots", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    gpkg = make_plots(args.plots)
    count = pyogrio.read_info(gpkg)["features"]
    settings = bench_database()
    engine = prepare_database(settings)
    url = make_url(settings.database_url)
    pg = (f"PG:host={url.host} port={url.port} dbname={url.database} user={url.username} "
          f"password={url.password}")
    env = {**os.environ, "SDI_DATABASE_URL": settings.database_url, "PG_USE_COPY": "YES"}

    def reset() -> None:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE forest_plots"))
            conn.execute(text("DROP TABLE IF EXISTS ogr2ogr_plots"))
            conn.execute(text("DELETE FROM layer_loads WHERE layer_id = 'forest_plots'"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE forest_plots"))

    runs: dict[str, list[float]] = {"sdi layers load": [], "ogr2ogr -append (same table)": [],
                                    "ogr2ogr -overwrite (new table)": []}
    sdi = str(Path(sys.executable).with_name("sdi"))
    for i in range(args.repeat):
        reset()
        runs["sdi layers load"].append(timed([sdi, "layers", "load", "forest_plots", str(gpkg)], env))
        reset()
        runs["ogr2ogr -append (same table)"].append(timed(
            ["ogr2ogr", "-f", "PostgreSQL", pg, str(gpkg), "forest_plots", "-append",
             "-nln", "forest_plots", "-nlt", "PROMOTE_TO_MULTI"], env))
        with engine.connect() as conn:
            loaded = conn.execute(text("SELECT count(*) FROM forest_plots")).scalar_one()
        assert loaded == count, f"ogr2ogr loaded {loaded} of {count}"
        reset()
        runs["ogr2ogr -overwrite (new table)"].append(timed(
            ["ogr2ogr", "-f", "PostgreSQL", pg, str(gpkg), "forest_plots", "-overwrite",
             "-nln", "ogr2ogr_plots", "-nlt", "PROMOTE_TO_MULTI", "-lco", "GEOMETRY_NAME=geom",
             "-lco", "SPATIAL_INDEX=GIST"], env))
        print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()))
    reset()

    gdal = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"\n{count:,} forest-plot polygons from GeoPackage ({gpkg.stat().st_size / 1e6:.0f} MB); "
          f"{gdal}; median of {args.repeat}")
    ours = statistics.median(runs["sdi layers load"])
    for name, values in runs.items():
        med = statistics.median(values)
        print(f"  {name:<32} {med:7.2f} s  {count / med:9,.0f} features/s  ratio sdi/this {ours / med:5.2f}")


if __name__ == "__main__":
    main()
