"""Per-band statistics of a COG, with rio-tiler (the same numbers the tile server rescales with).

rio-tiler reads the overview closest to ``max_size`` pixels on the long side, so statistics of
a large raster are approximate (like ``gdalinfo -approx_stats``) and exact for small ones.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rio_tiler.io import Reader

STATS_MAX_SIZE = 1024  # rio-tiler's and TiTiler's own default for statistics
HISTOGRAM_BINS = 20


def band_statistics(cog: Path, *, categorical: bool = False) -> list[dict]:
    """One dict per band: minimum, maximum, mean, stddev, valid_percent, percentiles, histogram."""
    with Reader(str(cog)) as reader:
        stats = reader.statistics(categorical=categorical, max_size=STATS_MAX_SIZE, percentiles=[2, 98],
                                  hist_options={"bins": HISTOGRAM_BINS})
    out = []
    for band in stats.values():
        counts, edges = band.histogram
        entry: dict[str, Any] = {
            "minimum": _num(band.min), "maximum": _num(band.max), "mean": _num(band.mean),
            "stddev": _num(band.std), "valid_percent": _num(band.valid_percent),
            "percentile_2": _num(getattr(band, "percentile_2", None)),
            "percentile_98": _num(getattr(band, "percentile_98", None)),
            "valid_pixels": int(band.valid_pixels), "masked_pixels": int(band.masked_pixels),
        }
        if categorical:
            entry["classes"] = {str(int(v)): int(c) for c, v in zip(counts, edges, strict=False)}
        else:
            entry["histogram"] = {"count": len(counts), "min": _num(edges[0]), "max": _num(edges[-1]),
                                  "buckets": [int(c) for c in counts]}
        out.append(entry)
    return out


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), 6)
