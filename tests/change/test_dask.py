"""The same detection on a Dask cluster (a real ``distributed.LocalCluster``: two worker processes): the
workers read the rasters themselves and the events are those of the local run."""

from __future__ import annotations

import pickle
import time
from concurrent.futures import Executor

import pytest
from distributed import Client, LocalCluster

from change.detect import Params
from change.run import run
from tests.uav_ingest.helpers import run_sdi


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as c, Client(c) as client:
        client.get_task_stream()  # starts recording which worker ran what
        yield c, client


class Recording(Executor):
    """An executor that passes everything to another and keeps what was sent."""

    def __init__(self, inner: Executor) -> None:
        self.inner, self.sent = inner, []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        self.sent.append((fn.__name__, pickle.dumps(args)))
        return self.inner.submit(fn, *args, **kwargs)


def test_detection_on_a_dask_cluster_gives_the_local_events(engine, settings, change_items, cluster, clean_events):
    _, client = cluster
    params = Params(window=128, sample_windows=4, workers=2)  # 4 × 4 windows
    local = run(engine, settings, change_items.s2_before, change_items.s2_after, params, write=False)
    started = time.time()
    executor = Recording(client.get_executor(pure=False))
    remote = run(engine, settings, change_items.s2_before, change_items.s2_after, params, write=False,
                 executor=executor)
    assert remote.result.thresholds == local.result.thresholds
    assert list(remote.events.event_id) == list(local.events.event_id) and len(local.events) > 0
    assert all(r.equals(w) for r, w in zip(remote.events.geometry, local.events.geometry, strict=True))
    assert list(remote.events.area_ha) == list(local.events.area_ha)
    # every window ran in the cluster's two worker processes, and was sent as the rasters' locations and
    # a window (a few kB), never pixels: the workers read the rasters themselves
    tasks = [t for t in client.get_task_stream(start=started) if t["key"].startswith("_detect_task")]
    assert len(tasks) == 16 and len({t["worker"] for t in tasks}) == 2
    detect_jobs = [args for name, args in executor.sent if name == "_detect_task"]
    assert len(detect_jobs) == 16
    location = remote.result.before.location.encode()
    assert all(len(args) < 20_000 and location in args for args in detect_jobs)


def test_cli_detect_on_a_dask_scheduler(settings, change_items, cluster, clean_events):
    local_cluster, _ = cluster
    store = {"SDI_RASTER_STORE": settings.raster_store}
    done = run_sdi(settings, "change", "detect", "--before", change_items.s2_before, "--after",
                   change_items.s2_after, "--scheduler", local_cluster.scheduler_address, "--dry-run", **store)
    assert done.returncode == 0, done.stderr
    assert "mất rừng / loss" in done.stdout and "dry run" in done.stdout
    # the setting does the same; an address where no scheduler listens is a clear error
    bad = run_sdi(settings, "change", "detect", "--before", change_items.s2_before, "--after",
                  change_items.s2_after, "--dry-run", **store, SDI_DASK_SCHEDULER="tcp://127.0.0.1:9")
    assert bad.returncode != 0 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in bad.stderr
