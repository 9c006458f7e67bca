"""Big files are streamed: memory stays bounded whatever the file size.

Validates a 60 MB and a 180 MB GeoJSON of forest plots with `sdi layers validate` in child
processes and compares their peak memory: a loader that held the file would grow with it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow

FEATURES = 150_000


def _write_big_geojson(path, n: int) -> int:
    # Rings of 40 vertices around points in the hills west of Lạng Sơn city, inside the province.
    rng = np.random.default_rng(1)
    lon = rng.uniform(106.45, 106.70, n)
    lat = rng.uniform(21.70, 21.80, n)
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"type":"FeatureCollection","features":[\n')
        for i in range(n):
            ring = ",".join(f"[{lon[i] + 0.0008 * np.cos(a):.7f},{lat[i] + 0.0008 * np.sin(a):.7f}]" for a in angles)
            first = ring.split("],", 1)[0] + "]"
            sep = "," if i else ""
            fh.write(f'{sep}{{"type":"Feature","properties":{{"plot_code":"BIG-{i:06d}","commune_code":"06463",'
                     f'"forest_type":"production","owner_vi":"Hộ gia đình"}},'
                     f'"geometry":{{"type":"Polygon","coordinates":[[{ring},{first}]]}}}}\n')
        fh.write("]}\n")
    return path.stat().st_size


def test_memory_does_not_grow_with_file_size(settings, seeded, tmp_path):
    """Tripling the file (60 → 180 MB) must not triple the memory: reading whole files would."""
    peaks, sizes = [], []
    for n in (FEATURES // 3, FEATURES):
        path = tmp_path / f"big_{n}.geojson"
        sizes.append(_write_big_geojson(path, n) / 1024**2)
        env = {**os.environ, "SDI_DATABASE_URL": settings.database_url, "SDI_LOAD_BATCH_SIZE": "10000"}
        proc = subprocess.Popen([sys.executable, "-m", "sdi.cli", "layers", "validate", "forest_plots",
                                 str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
        assert os.waitstatus_to_exitcode(status) == 0, err
        assert f"đọc/read {n}" in out
        peaks.append(usage.ru_maxrss / 1024)
        path.unlink()
    assert sizes[1] > 150
    growth = peaks[1] - peaks[0]
    assert growth < 0.3 * (sizes[1] - sizes[0]), f"peak RSS {peaks} MB for files of {sizes} MB"
