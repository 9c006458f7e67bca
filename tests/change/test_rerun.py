"""A re-run of the same before/after pair replaces the earlier run's events: those no longer found and
still 'new' go, rangers' decisions stay (or move to the new event at the same place), other pairs'
events are not touched — all in the transaction of the write."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import text

from change.detect import Params
from change.run import run


def _rows(engine, where: str, **params) -> dict[str, tuple]:
    with engine.connect() as conn:
        return {r.event_id: (r.status, r.note, r.change_type, r.wkt) for r in conn.execute(text(
            f"SELECT event_id, status, note, change_type, ST_AsText(geom) AS wkt FROM change_events "  # noqa: S608
            f"WHERE {where}"), params)}


def _decide(engine, event_id: str, status: str, note: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE change_events SET status = :s, note = :n WHERE event_id = :id"),
                     {"s": status, "n": note, "id": event_id})


def test_rerun_replaces_stale_events_and_keeps_rangers_decisions(engine, settings, change_items, clean_events):
    ci = change_items
    pair = "before_item = :b AND after_item = :a"
    s2 = {"b": ci.s2_before, "a": ci.s2_after}
    # another pair's events, one of them decided: nothing below may touch them
    run(engine, settings, ci.uav_before, ci.uav_after, Params(mmu_ha=ci.uav.mmu_ha))
    other = _rows(engine, f"NOT ({pair})", **s2)
    assert other
    _decide(engine, next(iter(other)), "false_alarm", "bóng mây / cloud shadow")
    other = _rows(engine, f"NOT ({pair})", **s2)

    first = run(engine, settings, ci.s2_before, ci.s2_after)  # default MMU: 0.5 ha
    events = first.events.sort_values("area_ha", ascending=False).reset_index(drop=True)
    small = events[events.area_ha < 2.0]
    assert len(small) >= 3 and len(events) - len(small) >= 3
    false_alarm, verified, unchecked = events.event_id[0], small.event_id.iloc[0], small.event_id.iloc[-1]
    noted = small.event_id.iloc[1]
    _decide(engine, false_alarm, "false_alarm", "nương rẫy cũ / old swidden")
    _decide(engine, verified, "verified", "đã kiểm tra 12/3 / checked on 12 March")
    _decide(engine, noted, "new", "cần đi kiểm tra / to visit")  # still 'new', but a ranger wrote on it

    # a higher minimum mapping unit: the small events are no longer found
    second = run(engine, settings, ci.s2_before, ci.s2_after, Params(mmu_ha=2.0))
    assert set(second.events.event_id) == set(events.event_id[events.area_ha >= 2.0])
    after = _rows(engine, pair, **s2)
    # the stale 'new' ones are gone, the verified one is kept and reported, the false alarm still is one
    assert set(after) == set(second.events.event_id) | {verified, noted}
    assert unchecked not in after and second.removed == len(small) - 2
    assert second.kept == sorted([verified, noted]) and second.carried == 0
    assert after[noted][:2] == ("new", "cần đi kiểm tra / to visit")
    assert after[verified][:2] == ("verified", "đã kiểm tra 12/3 / checked on 12 March")
    assert after[false_alarm][:2] == ("false_alarm", "nương rẫy cũ / old swidden")
    assert sum(status == "new" for status, *_ in after.values()) == len(after) - 2
    _decide(engine, noted, "new", None)  # (the note wiped: a plain unchecked event again for the rest)
    assert _rows(engine, f"NOT ({pair})", **s2) == other  # other pairs untouched

    # different parameters move some outlines: a decided event whose outline moved hands its decision
    # to the new event at the same place; the earlier 'new' events whose outline moved are replaced
    _decide(engine, verified, "new", None)  # (back to unchecked: only the decision below is tested)
    moved_before = _rows(engine, pair, **s2)
    third_params = Params(tolerance_px=0)  # the default is 1 (after co-registration)
    third = run(engine, settings, ci.s2_before, ci.s2_after, third_params, write=False)
    found = dict(zip(third.events.event_id, third.events.geometry, strict=True))
    moved = [i for i in moved_before if i not in found and i != false_alarm
             and any(g.intersects(shapely.from_wkt(moved_before[i][3])) for g in found.values())]
    assert moved, "the test needs an event whose outline changes with tolerance_px=0"
    decided = moved[0]
    _decide(engine, decided, "verified", "đã kiểm tra / checked")
    third = run(engine, settings, ci.s2_before, ci.s2_after, third_params)
    final = _rows(engine, pair, **s2)
    assert set(final) == set(third.events.event_id) and decided not in final
    # the false alarm (the largest event) may have moved too: then its decision is carried as well
    fa_moved = false_alarm not in found
    assert third.carried == 1 + fa_moved and third.kept == []
    heir = [i for i, (status, note, *_) in final.items() if status == "verified"]
    assert len(heir) == 1 and final[heir[0]][1] == "đã kiểm tra / checked"
    assert shapely.from_wkt(final[heir[0]][3]).intersects(shapely.from_wkt(moved_before[decided][3]))
    if fa_moved:
        alarms = [v[:2] for v in final.values() if v[0] == "false_alarm"]
        assert alarms == [("false_alarm", "nương rẫy cũ / old swidden")]
    else:
        assert final[false_alarm][:2] == ("false_alarm", "nương rẫy cũ / old swidden")
    assert third.removed == len([i for i in moved_before if i not in found and i not in (decided, false_alarm)]) >= 1
    assert _rows(engine, f"NOT ({pair})", **s2) == other


def test_a_rerun_finding_nothing_removes_the_unchecked_events_only(engine, settings, change_items, clean_events):
    ci = change_items
    first = run(engine, settings, ci.s2_before, ci.s2_after)
    kept = first.events.event_id[0]
    _decide(engine, kept, "verified", None)
    empty = run(engine, settings, ci.s2_before, ci.s2_after, Params(mmu_ha=1000.0))
    assert len(empty.events) == 0 and empty.written == 0
    assert empty.removed == len(first.events) - 1 and empty.kept == [kept]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT event_id, status FROM change_events")).all() == [(kept, "verified")]


def test_stale_events_stay_when_the_write_is_refused(engine, settings, change_items, snapshot, clean_events):
    """The removal runs in the load's transaction: a refused load removes nothing."""
    from layers.catalog import get_layer, load_catalog
    from layers.loader import load_frame
    from sdi.errors import ValidationFailedError

    first = run(engine, settings, change_items.s2_before, change_items.s2_after)
    taken = snapshot("change_events")
    outside = first.events.drop(columns=["area_ha"]).head(1).copy()
    outside["event_id"] = "chg_outside"
    outside["geometry"] = outside.geometry.translate(xoff=5.0)  # 5° east: far outside the province
    removed = []

    def remove_all(conn) -> None:
        removed.append(conn.execute(text("DELETE FROM change_events")).rowcount)

    with pytest.raises(ValidationFailedError):
        load_frame(outside, get_layer(load_catalog(engine), "change_events"), engine=engine, settings=settings,
                   source="test", also=remove_all)
    assert removed == [] and snapshot("change_events") == taken

    # and a failure after the removal undoes the rows written too
    inside = first.events.drop(columns=["area_ha"]).head(1).copy()
    inside["event_id"] = "chg_inside"

    def remove_all_then_fail(conn) -> None:
        remove_all(conn)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        load_frame(inside, get_layer(load_catalog(engine), "change_events"), engine=engine, settings=settings,
                   source="test", also=remove_all_then_fail)
    assert removed == [len(first.events) + 1] and snapshot("change_events") == taken
