"""Pairs of registered rasters with known change, ingested once per module into the session's store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from change.synthetic import Pair, landsat_pair, synthetic_pair
from sdi.settings import Settings
from tests.uav_ingest import rasters
from uav_ingest.ingest import ingest_file

UTC7 = dt.timezone(dt.timedelta(hours=7))


@dataclass
class Items:
    s2: Pair
    s2_before: str
    s2_after: str
    uav: Pair
    uav_before: str
    uav_after: str
    far: str  # a Sentinel-2 item elsewhere in the province: no overlap with the pair
    dem: str
    border: str  # restricted to border security (and its owner): hidden from other agencies


def _ingest(path: Path, collection: str, when: dt.datetime, engine: Engine, settings: Settings) -> str:
    return ingest_file(path, collection_id=collection, when=when, engine=engine, settings=settings).item_id


@pytest.fixture(scope="session")
def change_items(engine: Engine, settings: Settings, seeded: dict, tmp_path_factory: pytest.TempPathFactory) -> Items:
    folder = tmp_path_factory.mktemp("change-pairs")
    s2 = synthetic_pair(folder, 3, "s2", size=400, cloud=True)
    uav = synthetic_pair(folder, 5, "uav", size=900, cloud=False)
    t0, t1 = dt.datetime(2026, 1, 10, 10, tzinfo=UTC7), dt.datetime(2026, 3, 12, 10, tzinfo=UTC7)
    ids = dict(
        s2_before=_ingest(s2.before, "sentinel2_l2a", t0, engine, settings),
        s2_after=_ingest(s2.after, "sentinel2_l2a", t1, engine, settings),
        uav_before=_ingest(uav.before, "uav_rgb", t0, engine, settings),
        uav_after=_ingest(uav.after, "uav_rgb", t1, engine, settings),
        far=_ingest(rasters.sentinel2_like(folder / "far.tif", centre=(106.45, 21.62)), "sentinel2_l2a", t1,
                    engine, settings),
        dem=_ingest(rasters.dem(folder / "dem.tif"), "dem", t1, engine, settings),
        border=_ingest(rasters.uav_rgb(folder / "border.tif", width=500, height=400, seed=9), "uav_border", t1,
                       engine, settings),
    )
    return Items(s2=s2, uav=uav, **ids)


@pytest.fixture(scope="session")
def small_pairs(tmp_path_factory: pytest.TempPathFactory) -> list[Pair]:
    """A small evaluation set: two synthetic 10 m pairs, a real Landsat scene, a UAV flight."""
    folder = tmp_path_factory.mktemp("change-eval")
    return [synthetic_pair(folder, 11, "s2", size=400), synthetic_pair(folder, 12, "s2", size=400),
            landsat_pair(folder, 13, "rondonia"), synthetic_pair(folder, 14, "uav", size=900)]


@pytest.fixture()
def clean_events(engine: Engine):  # type: ignore[no-untyped-def]
    """Tests that write events start from and leave an empty layer."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM change_events"))
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM change_events"))


@pytest.fixture(scope="module")
def events(engine, settings, change_items):
    """The events of one Sentinel-2 run, alone in the layer for the module; removed afterwards."""
    from change.run import run

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM change_events"))
    out = run(engine, settings, change_items.s2_before, change_items.s2_after)
    assert out.written > 0
    yield out
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM change_events"))
