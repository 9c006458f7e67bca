"""Detection on registered items: events in the layer with plot/commune, accuracy floors, window
independence, and every bad input refused with a precise error and nothing written."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlalchemy import text

from change.detect import Params, detect, file_source
from change.errors import ChangeInputError
from change.evaluate import run_pair, score, summary
from change.run import run
from sdi.access import Principal
from sdi.errors import NotFoundError
from tests.uav_ingest.helpers import run_sdi

PLANNER = Principal(key_id=None, name="planner", agency="skhcn", role="agency")


def test_sentinel2_pair_writes_events_with_commune_and_area(engine, settings, change_items, clean_events):
    out = run(engine, settings, change_items.s2_before, change_items.s2_after)
    result = out.result
    assert result.index == "ndvi" and result.grid.res == 10.0
    assert out.written == len(out.events) > 0 and out.inserted == out.written
    s = score(change_items.s2, result)
    assert s.f1 >= 0.85 and s.objects_found == s.objects_true, s
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT change_type, area_ha, status, commune_code, before_date < after_date, GeometryType(geom) "
            "FROM change_events ORDER BY area_ha DESC")).all()
    assert len(rows) == out.written
    loss = [r for r in rows if r.change_type == "loss"]
    assert all(r.status == "new" and r.commune_code and r[4] and r[5] == "MULTIPOLYGON" for r in rows)
    assert all(r.area_ha >= 0.5 for r in rows)  # the Sentinel-2 minimum mapping unit
    # areas computed by PostGIS in VN-2000 agree with the detector's
    assert sum(r.area_ha for r in loss) == pytest.approx(
        out.events[out.events.change_type == "loss"].area_ha.sum(), rel=0.01)
    # a ranger's verdict survives a re-run of the same pair (an upsert leaves status alone)
    with engine.begin() as conn:
        conn.execute(text("UPDATE change_events SET status = 'verified'"))
    again = run(engine, settings, change_items.s2_before, change_items.s2_after)
    assert again.updated == again.written == out.written
    with engine.connect() as conn:
        assert conn.execute(text("SELECT DISTINCT status FROM change_events")).scalars().all() == ["verified"]


def test_uav_pair_uses_exg(engine, settings, change_items, clean_events):
    out = run(engine, settings, change_items.uav_before, change_items.uav_after,
              Params(mmu_ha=change_items.uav.mmu_ha), write=False)
    # a 5–10 cm flight is compared on the 0.25 m working grid (change.grid.UAV_WORKING_RES_M)
    assert out.result.index == "exg" and out.result.grid.res == pytest.approx(0.25)
    s = score(change_items.uav, out.result)
    assert s.f1 >= 0.8 and s.objects_found >= s.objects_true - 1, s
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM change_events")).scalar() == 0  # write=False


def test_uav_after_satellite_before_compares_rgb_on_the_coarser_grid(engine, settings, change_items):
    from change.detect import common_grid
    from change.run import OPERATOR, source_for

    before = source_for(engine, settings, change_items.s2_before, OPERATOR)
    after = source_for(engine, settings, change_items.uav_after, OPERATOR)
    assert common_grid(before, after).res == pytest.approx(10.0, rel=0.05)  # the satellite's 10 m
    # this test flight covers under 1 ha (9 × 9 Sentinel-2 pixels): compare at 2 m
    out = run(engine, settings, change_items.s2_before, change_items.uav_after, Params(resolution=2.0), write=False)
    assert out.result.index == "exg" and out.result.grid.res == 2.0


def test_accuracy_floor_on_small_set(small_pairs):
    scores = [run_pair(p)[0] for p in small_pairs]
    s2 = summary([s for s in scores if s.resolution == "s2"])
    uav = summary([s for s in scores if s.resolution == "uav"])
    assert s2["f1"] >= 0.88 and s2["object_recall"] >= 0.9, s2
    assert uav["f1"] >= 0.75 and uav["object_recall"] >= 0.8, uav  # training UAV pair 014: 0.79 (issue 16)


def test_windows_do_not_change_the_answer(small_pairs):
    pair = small_pairs[0]
    b, a = file_source(str(pair.before)), file_source(str(pair.after))
    whole = detect(b, a, Params(window=2048, workers=1))
    tiled = detect(b, a, Params(window=96, workers=2, sample_windows=1000))
    assert len(tiled.events) == len(whole.events)
    assert sum(e.area_ha for e in tiled.events) == pytest.approx(sum(e.area_ha for e in whole.events), rel=0.03)


def _bad(engine, settings, snapshot, before, after, who=None, **params):
    taken = snapshot("change_events")
    kwargs = {"who": who} if who else {}
    with pytest.raises((ChangeInputError, NotFoundError)) as info:
        run(engine, settings, before, after, Params(**params) if params else None, **kwargs)
    assert snapshot("change_events") == taken
    return str(info.value)


def test_bad_inputs_are_refused_and_change_nothing(engine, settings, change_items, snapshot, clean_events):
    ci = change_items
    assert "no raster item 'nope'" in _bad(engine, settings, snapshot, "nope", ci.s2_after)
    assert "same item" in _bad(engine, settings, snapshot, ci.s2_after, ci.s2_after)
    assert "swap --before and --after" in _bad(engine, settings, snapshot, ci.s2_after, ci.s2_before)
    assert "do not overlap" in _bad(engine, settings, snapshot, ci.s2_before, ci.far)
    message = _bad(engine, settings, snapshot, ci.dem, ci.s2_after)
    assert "no common bands" in message and "red+NIR" in message
    # restricted border imagery does not exist for a planner: same answer as an unknown id
    message = _bad(engine, settings, snapshot, ci.uav_before, ci.border, who=PLANNER)
    assert f"no raster item {ci.border!r}" in message
    assert "threshold must be in (0, 2)" in _bad(engine, settings, snapshot, ci.s2_before, ci.s2_after,
                                                 threshold=5.0)
    assert "--mmu-ha must be ≥ 0" in _bad(engine, settings, snapshot, ci.s2_before, ci.s2_after, mmu_ha=-1.0)


def test_cli_detect_prints_a_summary(settings, change_items, clean_events):
    store = {"SDI_RASTER_STORE": settings.raster_store}
    done = run_sdi(settings, "change", "detect", "--before", change_items.s2_before, "--after",
                   change_items.s2_after, "--mmu-ha", "1.0", "--threshold", "0.25", **store)
    assert done.returncode == 0, done.stderr
    assert "mất rừng / loss" in done.stdout and "Đã ghi / written" in done.stdout and "NDVI" in done.stdout
    # a re-run with a larger minimum mapping unit says what became of the first run's events
    again = run_sdi(settings, "change", "detect", "--before", change_items.s2_before, "--after",
                    change_items.s2_after, "--mmu-ha", "3.0", "--threshold", "0.25", **store)
    assert again.returncode == 0, again.stderr
    assert "Lần chạy trước của cặp ảnh / earlier run of this pair:" in again.stdout
    removed = re.search(r"xoá / removed: (\d+) sự kiện 'mới' không còn thấy", again.stdout)
    assert removed and int(removed.group(1)) > 0  # the first run's events under 3 ha
    assert "giữ / kept: 0 sự kiện" in again.stdout
    bad = run_sdi(settings, "change", "detect", "--before", "nope", "--after", change_items.s2_after, **store)
    assert bad.returncode == 2 and "no raster item 'nope'" in bad.stderr


def test_params_override_threshold_and_mmu(change_items):
    pair = change_items.s2
    b, a = file_source(str(pair.before)), file_source(str(pair.after))
    loose = detect(b, a, Params(mmu_ha=0.5))
    strict = detect(b, a, replace(Params(), threshold=0.6, mmu_ha=3.0))
    assert strict.thresholds["loss"] == 0.6 and all(e.area_ha >= 3.0 for e in strict.events)
    assert len(strict.events) < len(loose.events)
