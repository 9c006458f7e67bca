"""Accuracy of forest change detection on pairs with known truth (issues 5 and 16), side by side:

- **training** — ``change/synthetic.py`` (the generator the detector's few choices were made on): UAV RGB
  5–10 cm (ExG, leaf-off on every third pair), synthetic 10 m 4-band pairs, semi-real 10 m pairs from the
  real Landsat scenes of ``tests/data`` (Rondônia, Raleigh) with clearings injected;
- **independent evaluation** — ``change/eval_scenes.py`` + ``change/eval_pairs.py``, written from issue
  16's list of conditions,
  own seeds, never used to choose anything: UAV RGB (0.10 m), UAV multispectral (float32 reflectance) and
  Sentinel-2 (4 or 6 bands), one pair per condition (misregistration, other grid, leaf-off, clouds, haze,
  offsets, alpha/no-data, crops and paddies, burnt clearings), plus no-change pairs (leaf-off, haze,
  misregistration) scored by their false alarms per area.

Every pair runs with the detector's defaults (automatic thresholds; for the training UAV pairs the MMU
scaled to their small scenes, as before; the evaluation pairs use the defaults, 0.05 ha / 0.5 ha, as a
ranger would). Scores: loss only; pixels hidden by cloud, shadow or no-data on either date left out;
pixel precision/recall/F1 summed over pairs; object recall (true clearings ≥ the MMU overlapped by an
event).

Run: ``.venv/bin/python benchmarks/change_eval.py [--quick] [--json out.json]``.
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

from change.eval_pairs import SEED_SETS, eval_set  # noqa: E402
from change.evaluate import false_alarms, run_pair, summary  # noqa: E402
from change.synthetic import landsat_pair, synthetic_pair  # noqa: E402


def training(folder: Path, n: int) -> list:
    out = [synthetic_pair(folder, 100 + i, "uav") for i in range(n)]
    out += [synthetic_pair(folder, 200 + i, "s2") for i in range(max(1, n * 6 // 10))]
    # fields and paddies green on the first date, harvested or flooded on the second (not forest loss)
    out += [synthetic_pair(folder, 250 + i, "s2", crops=True) for i in range(max(1, n * 3 // 10))]
    half = max(1, n * 3 // 10)
    out += [landsat_pair(folder, 300 + i, "rondonia") for i in range(half)]
    out += [landsat_pair(folder, 400 + i, "raleigh") for i in range(half)]
    return out


def _line(label: str, m: dict) -> str:
    return (f"{label:34} pairs {m['pairs']:2}  P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}  "
            f"object R {m['object_recall']:.3f}  ({m['seconds']:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs-per-kind", type=int, default=10, help="training UAV pairs (10 m: as many)")
    parser.add_argument("--quick", action="store_true", help="the small independent set of the test suite")
    parser.add_argument("--json", type=Path, help="write the scores here")
    parser.add_argument("--seeds", default="v1", choices=sorted(SEED_SETS), help="seed set of the evaluation")
    parser.add_argument("--no-training", action="store_true", help="the independent set only")
    parser.add_argument("--training-only", action="store_true", help="the training set only")
    args = parser.parse_args()
    report: dict = {"training": {}, "evaluation": {}, "no_change": []}
    with tempfile.TemporaryDirectory(prefix="change-eval-") as tmp:
        started = time.perf_counter()
        train = [] if args.quick or args.no_training else training(Path(tmp) / "train", args.pairs_per_kind)
        evaluation = [] if args.training_only else eval_set(Path(tmp) / "eval", quick=args.quick, seeds=args.seeds)
        print(f"generation {time.perf_counter() - started:.0f} s", flush=True)
        scores = {"train": [], "eval": []}
        for group, pairs in (("train", train), ("eval", evaluation)):
            for pair in pairs:
                s, r = run_pair(pair)
                sensor = getattr(pair, "sensor", "uav_rgb" if pair.resolution == "uav" else "s2")
                condition = getattr(pair, "condition", "training")
                if pair.truth:
                    scores[group].append((sensor, condition, s))
                else:
                    fa = false_alarms(pair, r)
                    report["no_change"].append({"pair": pair.name, "sensor": sensor, "condition": condition, **fa})
                print(f"{group} {pair.name:34} P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f} objects "
                      f"{s.objects_found}/{s.objects_true} events {s.events}  reg {r.registration.dx_px:+.2f},"
                      f"{r.registration.dy_px:+.2f}  {r.seconds:.1f} s", flush=True)
    for group, key in (("train", "training"), ("eval", "evaluation")):
        if not scores[group]:
            continue
        print(f"\n== {key} ==")
        for sensor in ("uav_rgb", "uav_ms", "s2"):
            part = [s for se, _, s in scores[group] if se == sensor]
            if part:
                report[key][sensor] = summary(part)
                print(_line(sensor, report[key][sensor]))
        conditions = sorted({c for _, c, _ in scores[group]})
        for cond in conditions:
            part = [s for _, c, s in scores[group] if c == cond]
            report[key][f"condition:{cond}"] = summary(part)
            print(_line(f"  condition {cond}", report[key][f"condition:{cond}"]))
    if report["no_change"]:
        print("\n== no-change pairs (false alarms) ==")
        for row in report["no_change"]:
            print(f"{row['pair']:34} {row['sensor']:8} {row['false_ha']:.4f} ha over {row['area_ha']:.2f} ha: "
                  f"{row['m2_per_ha']:.2f} m²/ha, {row['ha_per_km2']:.4f} ha/km²")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
