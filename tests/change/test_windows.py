"""Window independence of the row-by-row merge (``change.detect._Mosaic``): a clearing cut by many window
edges, in both directions, comes out as one polygon of the right area, as when read in one window."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from change.detect import Params, detect, file_source
from change.synthetic import CANOPY, SOIL

SIZE, RES = 300, 10.0
#: a square ring (a hole in the middle): 40..200 px outside, 20 px thick; with 64 px windows it lies on
#: 4 × 4 windows, its two sides go down through three rows of windows before the bottom joins them
RING = (40, 200, 20)
#: a small clearing inside one window (1 ha)
SQUARE = (250, 260, 100, 110)


def _write(path: Path, img: np.ndarray) -> Path:
    data = np.clip(img * 10000, 1, 65535).astype("uint16")
    with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=4, dtype="uint16",
                       crs="EPSG:32648", transform=from_origin(650_000, 2_420_000, RES, RES), nodata=0,
                       tiled=True, blockxsize=64, blockysize=64) as ds:
        ds.write(data)
        for i, name in enumerate(["B02", "B03", "B04", "B08"], start=1):
            ds.set_band_description(i, name)
    return path


@pytest.fixture(scope="module")
def ring_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("ring")
    rng = np.random.default_rng(7)
    before = CANOPY[:, None, None] * (1 + rng.normal(0, 0.02, (4, SIZE, SIZE)))
    lost = np.zeros((SIZE, SIZE), dtype=bool)
    lo, hi, width = RING
    lost[lo:hi, lo:hi] = True
    lost[lo + width:hi - width, lo + width:hi - width] = False
    r0, r1, c0, c1 = SQUARE
    lost[r0:r1, c0:c1] = True
    after = np.where(lost, SOIL[:, None, None] * (1 + rng.normal(0, 0.02, (4, SIZE, SIZE))), before)
    return _write(folder / "before.tif", before), _write(folder / "after.tif", after), lost


def test_a_clearing_across_many_windows_is_one_polygon_of_the_right_area(ring_pair):
    before, after, lost = ring_pair
    b, a = file_source(str(before)), file_source(str(after))
    params = Params(threshold=0.3, gain=False, workers=2, sample_windows=1000)
    whole = detect(b, a, replace(params, window=1024))
    tiled = detect(b, a, replace(params, window=64))  # 5 × 5 windows, 5 rows merged one after the other
    lo, hi, width = RING
    ring_ha = ((hi - lo) ** 2 - (hi - lo - 2 * width) ** 2) * RES * RES / 1e4  # 112 ha
    for result in (whole, tiled):
        assert [e.kind for e in result.events] == ["loss", "loss"]
        ring, square = result.events
        assert ring.geometry.geom_type == "Polygon" and len(ring.geometry.interiors) == 1
        assert ring.area_ha == pytest.approx(ring_ha, rel=0.01)
        assert ring.pixels == pytest.approx(lost[:SQUARE[0]].sum(), rel=0.01)
        assert square.area_ha == pytest.approx(1.0, rel=0.05)
    # the same polygons, magnitudes and confidences whatever the windows
    for w, t in zip(whole.events, tiled.events, strict=True):
        assert shapely.equals(w.geometry, t.geometry)
        assert (w.pixels, round(w.magnitude, 6), round(w.confidence, 6)) == \
            (t.pixels, round(t.magnitude, 6), round(t.confidence, 6))
    # the ring really was cut: it spans windows of 64 px in both directions
    x0, y0, x1, y1 = tiled.events[0].geometry.bounds
    assert (x1 - x0) / RES > 2 * 64 and (y1 - y0) / RES > 2 * 64
