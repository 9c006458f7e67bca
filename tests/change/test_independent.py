"""Issue 16: detection on pairs the detector was never tuned on (``change.eval_pairs``, evaluation only),
ingested with ``sdi ingest`` into the existing collections and detected with the defaults as a ranger
would; the data conventions (alpha, scale/offset, BOA_ADD_OFFSET, no band descriptions); co-registration;
and the bad inputs (overlap too small, one date all cloud) refused with nothing written."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from change.detect import detect, file_source
from change.errors import ChangeInputError
from change.eval_pairs import eval_pair, eval_set
from change.evaluate import false_alarms, run_pair, score, summary
from change.grid import roles_from_file
from change.reading import conversion
from change.run import run
from uav_ingest.ingest import ingest_file

UTC7 = dt.timezone(dt.timedelta(hours=7))
#: regression floors of the quick independent set, below the measured F1 (UAV RGB 0.71 — its leaf-off pair
#: is missed —, UAV multispectral 0.95, Sentinel-2 0.99; see benchmarks/RESULTS.md, issue 16); the goal
#: (0.90 for every sensor) is the xfail test below, not met for UAV RGB
QUICK_F1 = {"uav_rgb": 0.65, "uav_ms": 0.90, "s2": 0.95}


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> list:
    return eval_set(tmp_path_factory.mktemp("eval-quick"), quick=True)


def test_independent_quick_set_meets_the_floors(quick):
    started = time.perf_counter()
    scores, alarms = {}, {}
    for pair in quick:
        s, r = run_pair(pair)
        if pair.truth:
            scores.setdefault(pair.sensor, []).append(s)
        else:
            alarms[pair.sensor] = false_alarms(pair, r)
    for sensor, floor in QUICK_F1.items():
        m = summary(scores[sensor])
        assert m["f1"] >= floor and m["object_recall"] >= 0.5, (sensor, m)
    # no-change pairs (haze, another season and sun): the issue's false-alarm ceilings
    assert alarms["s2"]["ha_per_km2"] < 0.05, alarms["s2"]
    assert alarms["uav_rgb"]["m2_per_ha"] < 10, alarms["uav_rgb"]
    assert time.perf_counter() - started < 60


@pytest.mark.xfail(strict=True, reason="issue 16 goal not met: clearings among leafless crowns are vetoed with them")
def test_independent_quick_set_meets_the_goal_for_drone_rgb(quick):
    m = summary([run_pair(p)[0] for p in quick if p.truth and p.sensor == "uav_rgb"])
    assert m["f1"] >= 0.90, m


def test_misregistration_is_found_to_a_fraction_of_a_pixel(tmp_path):
    pair = eval_pair(tmp_path, "s2", "misregistration", 3, size=250)
    result = detect(file_source(str(pair.before)), file_source(str(pair.after)))
    reg = result.registration
    # the after's content lies ``misregistration_px`` from its true place; the detector reads it back
    assert (-reg.dx_px, -reg.dy_px) == pytest.approx(pair.misregistration_px, abs=0.35), reg
    assert any("co-registration" in n for n in result.notes)


def _write(path: Path, data: np.ndarray, **extra) -> Path:
    profile = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                   dtype=data.dtype.name, crs="EPSG:32648", transform=from_origin(690_000, 2_418_000, 10, 10))
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
        for key, value in extra.items():
            setattr(ds, key, value) if key in ("scales", "offsets", "colorinterp") else ds.update_tags(**value)
    return path


def test_reflectance_conventions(tmp_path):
    dn = np.full((4, 8, 8), 1300, "uint16")  # 0.03 reflectance + the 1000 offset of baseline 04.00+
    boa = file_source(str(_write(tmp_path / "boa.tif", dn, tags={"BOA_ADD_OFFSET": "-1000",
                                                                    "BOA_QUANTIFICATION_VALUE": "10000"})))
    gain, offset = conversion(boa)
    assert 1300 * gain + offset == pytest.approx(0.03)
    scaled = file_source(str(_write(tmp_path / "scaled.tif", dn, scales=(1e-4,) * 4, offsets=(-0.1,) * 4)))
    gain, offset = conversion(scaled)
    assert 1300 * gain + offset == pytest.approx(0.03)
    plain = file_source(str(_write(tmp_path / "plain.tif", dn)))
    assert conversion(plain) == (1e-4, 0.0)
    # a plain 8-bit RGB(A) orthophoto without band descriptions or colour interpretation: red, green, blue
    rgb = _write(tmp_path / "rgb.tif", np.full((3, 8, 8), 90, "uint8"))
    assert roles_from_file(str(rgb)) == {"red": 1, "green": 2, "blue": 3}


def test_ingested_drone_and_sentinel2_pairs_with_defaults(engine, settings, seeded, tmp_path, clean_events):
    """As the rangers tried it: an OpenDroneMap-like RGBA pair and a BOA_ADD_OFFSET Sentinel-2 pair, ingested
    into uav_rgb / sentinel2_l2a (JPEG + mask / ZSTD COGs, tags kept), detected by ``run`` with every
    default: the same answer as on the original files."""
    t0, t1 = dt.datetime(2026, 1, 10, 10, tzinfo=UTC7), dt.datetime(2026, 4, 2, 10, tzinfo=UTC7)
    for pair, collection, floor in ((eval_pair(tmp_path, "uav_rgb", "alpha_nodata", 81, size=900), "uav_rgb", 0.7),
                                    (eval_pair(tmp_path, "s2", "offsets", 82, size=250), "sentinel2_l2a", 0.7)):
        ids = [ingest_file(path, collection_id=collection, when=when, engine=engine, settings=settings).item_id
               for path, when in ((pair.before, t0), (pair.after, t1))]
        out = run(engine, settings, ids[0], ids[1])
        s, raw = score(pair, out.result), run_pair(pair)[0]
        assert s.f1 >= floor and s.objects_found >= 1, (pair.name, s, out.result.notes)
        assert s.f1 == pytest.approx(raw.f1, abs=0.05), (s, raw)  # JPEG of the drone COG: a little noise
        assert out.written == len(out.events)


def _shifted_copy(src: Path, dst: Path, dx_m: float) -> Path:
    with rasterio.open(src) as ds:
        profile, data, names = ds.profile, ds.read(), ds.descriptions
        t = ds.transform
    profile["transform"] = from_origin(t.c + dx_m, t.f, t.a, -t.e)
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data)
        out.descriptions = names
    return dst


def test_bad_pairs_are_refused_in_both_languages(tmp_path):
    pair = eval_pair(tmp_path, "s2", "haze", 84, change=False, size=120)  # even seed: 4 bands
    width_m = 120 * 10.0
    far = _shifted_copy(pair.after, tmp_path / "sliver.tif", width_m * 0.95)  # 5 % overlap
    with pytest.raises(ChangeInputError) as info:
        detect(file_source(str(pair.before)), file_source(str(far)))
    assert "chồng phủ quá ít" in str(info.value) and "overlap too little" in str(info.value)
    # one date all cloud: white, bright, as blue as red
    with rasterio.open(pair.after) as ds:
        profile = ds.profile
    cloudy = tmp_path / "cloud.tif"
    with rasterio.open(cloudy, "w", **profile) as ds:
        ds.write(np.full((4, 120, 120), 5500, "uint16"))
        for i, name in enumerate(["B02", "B03", "B04", "B08"], start=1):
            ds.set_band_description(i, name)
    with pytest.raises(ChangeInputError) as info:
        detect(file_source(str(pair.before)), file_source(str(cloudy)))
    assert "không nhìn thấy mặt đất" in str(info.value) and "almost no valid pixels" in str(info.value)


@pytest.mark.xfail(strict=True, reason="not implemented reliably: a test on co-registration agreement and "
                   "correlation also refused genuine cloudy Sentinel-2 pairs and featureless scenes, so it was removed")
def test_two_places_are_refused(tmp_path):
    """The same footprint, another forest (a wrong item or a wrong georeference)."""
    one = eval_pair(tmp_path / "one", "s2", "haze", 86, change=False, size=200)
    other = eval_pair(tmp_path / "two", "s2", "haze", 88, change=False, size=200)
    with pytest.raises(ChangeInputError) as info:
        detect(file_source(str(one.before)), file_source(str(other.after)))
    assert "không cùng một nơi" in str(info.value) and "do not show the same place" in str(info.value)
