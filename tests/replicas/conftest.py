"""Two real ``sdi serve`` processes on one database and one raster store, each with a state folder of
its own (nothing local is shared: what one replica knows, the other can only learn from PostgreSQL or
the store), and a Sentinel-2 pair with known change for the forest-change process."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text

from change.synthetic import synthetic_pair
from sdi.settings import Settings
from tests.conftest import LiveServer, start_server, stop_server
from uav_ingest.ingest import ingest_file

UTC7 = dt.timezone(dt.timedelta(hours=7))


@dataclass
class Replicas:
    a: LiveServer
    b: LiveServer
    settings: Settings
    state_dirs: tuple[str, str]


def replica(settings: Settings, state_dir: str) -> LiveServer:
    """One replica: the session's database and store, its own ``SDI_STATE_DIR``."""
    return start_server(settings, {"SDI_STATE_DIR": state_dir})


@pytest.fixture(scope="module")
def replicas(settings: Settings, seeded: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    dirs = (str(tmp_path_factory.mktemp("replica-a")), str(tmp_path_factory.mktemp("replica-b")))
    a = replica(settings, dirs[0])
    try:
        b = replica(settings, dirs[1])
    except BaseException:
        stop_server(a)
        raise
    both = Replicas(a, b, settings, dirs)
    yield both
    stop_server(both.a)  # the job test restarts ``a``: stop the one running now
    stop_server(both.b)


@dataclass(frozen=True)
class Pair:
    before: str
    after: str


@pytest.fixture(scope="module")
def pair(engine: Engine, settings: Settings, seeded: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """A Sentinel-2 pair of its own (a seed no other test uses, so no duplicate of theirs); its change
    events are removed afterwards."""
    folder = tmp_path_factory.mktemp("replica-pair")
    s2 = synthetic_pair(folder, 1000 + os.getpid() % 1000, "s2", size=400, cloud=False)
    t0, t1 = dt.datetime(2026, 2, 1, 10, tzinfo=UTC7), dt.datetime(2026, 4, 1, 10, tzinfo=UTC7)
    ids = [ingest_file(path, collection_id="sentinel2_l2a", when=when, engine=engine, settings=settings).item_id
           for path, when in ((s2.before, t0), (s2.after, t1))]
    yield Pair(*ids)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM change_events WHERE before_item = :b AND after_item = :a"),
                     {"b": ids[0], "a": ids[1]})
