"""Speed of forest change detection (issue 5): megapixels per second, peak memory, read-only floor.

For each size N (default 5,000 and 20,000) a 10 m 4-band uint16 pair of N × N pixels is written block by
block (tiled GeoTIFF, DEFLATE; a 2,048² scene with clearings repeated), then, each in a fresh process:

- ``detect``: the whole detection (``change.detect.detect``: sampling pass, then every window: read,
  index, filters, threshold, morphology, polygons; merge; areas) with the default window (1,024²)
  and all cores;
- ``read``: the floor — the same windows (with their halo) of both rasters read through the same
  ``WarpedVRT``, nothing computed.

Peak memory is the process's maximum resident set size (``ru_maxrss``), Python and GDAL included.

Run: ``.venv/bin/python benchmarks/change_bench.py [--sizes 5000 20000] [--modes read detect] [--keep]``;
with ``--keep`` the pairs stay in ``benchmarks/.work/change`` and a later run reuses them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = ROOT / "benchmarks" / ".work" / "change"


def _child(mode: str, before: str, after: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from change.detect import Params, common_grid, detect, file_source
    from change.features import date_features
    from change.features import halo as feature_halo
    from change.grid import expanded, windows

    b, a = file_source(before), file_source(after)
    params = Params()
    started = time.perf_counter()
    if mode == "detect":
        result = detect(b, a, params)
        extra = {"events": len(result.events), "valid": result.valid_pixels}
        grid = result.grid
    else:
        grid = common_grid(b, a)
        halo = feature_halo(grid, params.tolerance_px)

        def read(win):
            big, _ = expanded(grid, win, halo)
            date_features(b, grid, big, "ndvi")
            date_features(a, grid, big, "ndvi")

        with ThreadPoolExecutor(params.workers) as pool:
            list(pool.map(read, windows(grid, params.window)))
        extra = {}
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "seconds": seconds, "megapixels": grid.width * grid.height / 1e6,
                      "peak_mb": peak_mb, **extra}))


def measure(mode: str, before: Path, after: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", mode, str(before), str(after)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--keep", action="store_true", help="keep the generated rasters (and reuse kept ones)")
    parser.add_argument("--modes", nargs="+", choices=["read", "detect"], default=["read", "detect"])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    from change.synthetic import big_pair

    WORK.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores")
    for size in args.sizes:
        t = time.perf_counter()
        before, after = WORK / f"big_{size}_before.tif", WORK / f"big_{size}_after.tif"
        kept = args.keep and before.exists() and after.exists()
        if not kept:
            before, after = big_pair(WORK, size)
        gb = (before.stat().st_size + after.stat().st_size) / 1e9
        print(f"{size}²: pair {'kept from an earlier run' if kept else 'written'} in {time.perf_counter() - t:.0f} s "
              f"({gb:.2f} GB on disk)", flush=True)
        for mode in args.modes:
            m = measure(mode, before, after)
            print(f"  {mode:6} {m['seconds']:7.1f} s  {m['megapixels'] / m['seconds']:6.2f} MP/s  "
                  f"peak {m['peak_mb']:6.0f} MB" + (f"  events {m['events']}" if "events" in m else ""), flush=True)
        if not args.keep:
            before.unlink()
            after.unlink()
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
