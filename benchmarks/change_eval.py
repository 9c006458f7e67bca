"""Accuracy of forest change detection on pairs with known truth (issue 5).

22 pairs by default: 10 UAV RGB (5–10 cm, ExG), 6 synthetic Sentinel-2-like (10 m, NDVI) and 6
semi-real pairs from the real Landsat scenes in ``tests/data`` (3 Rondônia, 3 Raleigh) with
clearings injected in their forest; see ``change/synthetic.py`` for what differs between dates
(season, illumination, haze, noise, cloud + shadow on every other pair, 1–3 px misregistration).
Each pair runs with the detector's defaults (automatic threshold), the pair's minimum mapping unit.

Scores (loss only; pixels under cloud or cloud shadow on either date are left out, as nobody can see
there): pixel precision, recall, F1 summed over the pairs of a resolution; object precision (events
that overlap a true clearing) and object recall (true clearings that some event overlaps).

Run: ``.venv/bin/python benchmarks/change_eval.py [--pairs-per-kind N] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from change.evaluate import run_pair, summary  # noqa: E402
from change.synthetic import landsat_pair, synthetic_pair  # noqa: E402


def pairs(folder: Path, n: int) -> list:
    out = [synthetic_pair(folder, 100 + i, "uav") for i in range(n)]
    out += [synthetic_pair(folder, 200 + i, "s2") for i in range(max(1, n * 6 // 10))]
    half = max(1, n * 3 // 10)
    out += [landsat_pair(folder, 300 + i, "rondonia") for i in range(half)]
    out += [landsat_pair(folder, 400 + i, "raleigh") for i in range(half)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs-per-kind", type=int, default=10, help="UAV pairs (10 m pairs: as many)")
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="change-eval-") as tmp:
        started = time.perf_counter()
        evaluation = pairs(Path(tmp), args.pairs_per_kind)
        generated = time.perf_counter() - started
        scores = []
        for pair in evaluation:
            s, r = run_pair(pair)
            scores.append(s)
            print(f"{s.name:14} {s.resolution:4} shift {pair.misregistration_px!s:8} P {s.precision:.3f} "
                  f"R {s.recall:.3f} F1 {s.f1:.3f}  objects {s.objects_found}/{s.objects_true}  "
                  f"events {s.events_true}/{s.events}  index {r.index}  {s.seconds:.1f} s", flush=True)
    report = {}
    for res, label in (("uav", "UAV 5–10 cm (RGB, ExG)"), ("s2", "10 m (NDVI): synthetic + semi-real Landsat")):
        part = [s for s in scores if s.resolution == res]
        report[res] = summary(part)
        m = report[res]
        print(f"\n{label}: {m['pairs']} pairs  pixel P {m['precision']:.3f}  R {m['recall']:.3f}  "
              f"F1 {m['f1']:.3f}  object P {m['object_precision']:.3f}  R {m['object_recall']:.3f}  "
              f"({m['seconds']:.0f} s detection)")
    semi = [s for s in scores if s.name.startswith(("rondonia", "raleigh"))]
    report["semi_real"] = summary(semi)
    m = report["semi_real"]
    print(f"of which semi-real Landsat: {m['pairs']} pairs  F1 {m['f1']:.3f}  object R {m['object_recall']:.3f}")
    print(f"generation {generated:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"pairs": [s.__dict__ for s in scores], "summary": report}, indent=1))


if __name__ == "__main__":
    main()
