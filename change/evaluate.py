"""Accuracy of the detector on pairs with known truth: pixel precision/recall/F1, object precision/recall."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from rasterio.features import rasterize

from change.detect import Params, Result, detect, file_source
from change.synthetic import Pair


@dataclass
class Score:
    name: str
    resolution: str
    tp: int
    fp: int
    fn: int
    objects_found: int
    objects_true: int
    events_true: int
    events: int
    seconds: float

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _burn(geoms: list, result: Result) -> np.ndarray:
    g = result.grid
    geoms = [x for x in geoms if x is not None and not x.is_empty]
    if not geoms:
        return np.zeros((g.height, g.width), dtype=bool)
    return rasterize(geoms, out_shape=(g.height, g.width), transform=g.transform, dtype="uint8").astype(bool)


def score(pair: Pair, result: Result) -> Score:
    """Loss events against the truth, outside cloud and shadow."""
    found = [e.geometry for e in result.events if e.kind == "loss"]
    truth, pred = _burn(pair.truth, result), _burn(found, result)
    keep = ~_burn([pair.excluded], result) if pair.excluded is not None else np.ones_like(truth)
    tp = int((truth & pred & keep).sum())
    fp = int((~truth & pred & keep).sum())
    fn = int((truth & ~pred & keep).sum())
    hidden = pair.excluded if pair.excluded is not None else shapely.Polygon()
    visible_truth = [t for t in pair.truth if t.difference(hidden).area > 0.5 * t.area]
    visible_found = [f for f in found if f.difference(hidden).area > 0.5 * f.area]
    tree = shapely.STRtree(found) if found else None
    objects_found = sum(1 for t in visible_truth if tree is not None and len(tree.query(t, predicate="intersects")))
    ttree = shapely.STRtree(pair.truth) if pair.truth else None
    events_true = sum(1 for f in visible_found if ttree is not None and len(ttree.query(f, predicate="intersects")))
    return Score(pair.name, pair.resolution, tp, fp, fn, objects_found, len(visible_truth), events_true,
                 len(visible_found), result.seconds)


def false_alarms(pair: Pair, result: Result) -> dict[str, float]:
    """Loss area on a pair with nothing cut, per area seen (m² per ha for drones, ha per km² for satellites)."""
    found = _burn([e.geometry for e in result.events if e.kind == "loss"], result)
    keep = ~_burn([pair.excluded], result) if pair.excluded is not None else np.ones_like(found)
    px = result.grid.res ** 2
    false_ha, area_ha = float((found & keep).sum() * px / 1e4), float(keep.sum() * px / 1e4)
    return {"false_ha": false_ha, "area_ha": area_ha, "m2_per_ha": false_ha * 1e4 / max(area_ha, 1e-9),
            "ha_per_km2": false_ha * 100 / max(area_ha, 1e-9)}


def run_pair(pair: Pair, params: Params | None = None) -> tuple[Score, Result]:
    params = params or Params()
    if params.mmu_ha is None:
        from dataclasses import replace

        params = replace(params, mmu_ha=pair.mmu_ha)
    result = detect(file_source(str(pair.before)), file_source(str(pair.after)), params)
    return score(pair, result), result


def summary(scores: list[Score]) -> dict[str, float]:
    tp, fp, fn = (sum(getattr(s, k) for s in scores) for k in ("tp", "fp", "fn"))
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    of, ot = sum(s.objects_found for s in scores), sum(s.objects_true for s in scores)
    et, ev = sum(s.events_true for s in scores), sum(s.events for s in scores)
    return {"pairs": len(scores), "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "object_precision": et / ev if ev else 1.0, "object_recall": of / ot if ot else 1.0,
            "seconds": sum(s.seconds for s in scores)}
