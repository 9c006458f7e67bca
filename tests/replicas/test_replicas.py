"""Replicas that share nothing local behave as one: two real ``sdi serve`` processes on one database and
one raster store, each with its own state folder.

- a forest-change job started on one (``Prefer: respond-async``) is seen, finished and its results
  read on the other, and still there after the first is restarted;
- a change report made by one is served by the other, the same bytes with the same ETag;
- a key revoked, a layer hidden (and shown again), a raster item withdrawn: the other replica honours
  each within a second. The proof is strict: every request *started* a second or more after the
  change was committed sees it (the caches are per process and live at most one second; see
  ``sdi.access.KEY_TTL_S``, ``sdi.callers.CATALOG_CHECK_S``, ``rasters.items.ITEM_TTL_S``); and
  PostgreSQL's ``NOTIFY`` (``sdi.notify``) makes it sooner: the first request after the change that
  sees it comes well before the expiry could have found it (< ``TOLD_S``).
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from api.ogc.jobs import ORPHAN_AFTER, lock_key
from rasters.items import ITEM_TTL_S
from sdi.access import KEY_TTL_S, add_key, revoke_key
from sdi.callers import CATALOG_CHECK_S
from sdi.models import CachedReport, LayerRecord, ProcessJob, RasterItem
from tests.conftest import stop_server
from tests.replicas.conftest import replica

JOB_TIMEOUT_S = 180
#: a change told by NOTIFY is seen this soon (the one-second expiry alone: up to a second, and the
#: caches are warmed just before each change, so about a second)
TOLD_S = 0.5


def _job(server_url: str, job_id: str, headers: dict) -> httpx.Response:
    return httpx.get(f"{server_url}/ogc/jobs/{job_id}", params={"f": "json"}, headers=headers, timeout=30)


def _results(server_url: str, job_id: str, headers: dict) -> httpx.Response:
    return httpx.get(f"{server_url}/ogc/jobs/{job_id}/results", params={"f": "json"}, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def job(replicas, pair, keys) -> dict:
    """A forest-change job started on replica ``a``, followed to its end on replica ``b``."""
    ranger = {"X-API-Key": keys["ranger"]}
    started = httpx.post(f"{replicas.a.url}/ogc/processes/forest-change/execution", timeout=60,
                         json={"inputs": {"before": pair.before, "after": pair.after}},
                         headers={**ranger, "Prefer": "respond-async"})
    assert started.status_code == 201, started.text
    job_id = started.headers["location"].rstrip("/").rsplit("/", 1)[1]
    first = _job(replicas.b.url, job_id, ranger)  # at once: b knows the job a has just accepted
    assert first.status_code == 200, first.text
    seen = [first.json()["status"]]
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while seen[-1] not in ("successful", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        seen.append(_job(replicas.b.url, job_id, ranger).json()["status"])
    return {"id": job_id, "statuses": seen, "first": first.json()}


def test_a_job_started_on_one_replica_is_seen_and_finished_on_the_other(replicas, pair, job, keys):
    ranger = {"X-API-Key": keys["ranger"]}
    assert job["first"]["jobID"] == job["id"] and job["first"]["processID"] == "forest-change"
    assert job["statuses"][-1] == "successful", job["statuses"]
    results = _results(replicas.b.url, job["id"], ranger)
    assert results.status_code == 200, results.text
    summary = results.json().get("summary", results.json())
    assert (summary["before"], summary["after"]) == (pair.before, pair.after)
    assert summary["events"] > 0 and summary["written"] == summary["events"]
    listed = httpx.get(f"{replicas.b.url}/ogc/jobs", params={"f": "json"}, headers=ranger, timeout=30).json()
    assert job["id"] in [j["jobID"] for j in listed["jobs"]]
    # the other replica keeps the gateway's rule: job status and results only for those who may run processes
    for path in (f"/ogc/jobs/{job['id']}", f"/ogc/jobs/{job['id']}/results", "/ogc/jobs"):
        assert httpx.get(f"{replicas.b.url}{path}", params={"f": "json"}, timeout=30).status_code == 401
        assert httpx.get(f"{replicas.b.url}{path}", params={"f": "json"}, timeout=30,
                         headers={"X-API-Key": keys["planner"]}).status_code == 403
    # nothing of the job is on either replica's disk: a restarted ``a`` serves the status and results
    for folder in replicas.state_dirs:
        assert not any("job" in p.name for p in Path(folder).rglob("*")), folder
    stop_server(replicas.a)
    replicas.a = replica(replicas.settings, replicas.state_dirs[0])
    again = _job(replicas.a.url, job["id"], ranger)
    assert again.status_code == 200 and again.json()["status"] == "successful", again.text
    assert _results(replicas.a.url, job["id"], ranger).json() == results.json()


def test_a_report_made_by_one_replica_is_served_by_the_other_with_the_same_etag(replicas, pair, job, keys, engine):
    assert job["statuses"][-1] == "successful"
    ranger = {"X-API-Key": keys["ranger"]}

    def report(server_url: str, fmt: str, headers: dict | None = None) -> httpx.Response:
        return httpx.get(f"{server_url}/change/reports/{pair.before}/{pair.after}", params={"f": fmt},
                         headers={**ranger, **(headers or {})}, timeout=120)

    def rendered(fmt: str):  # the newest cached rendering in ``fmt``: its version and when it was made
        with Session(engine) as session:
            return session.execute(select(CachedReport.version, CachedReport.created)
                                   .where(CachedReport.key.endswith(f".{fmt}"))
                                   .order_by(CachedReport.created.desc())).first()

    # HTML made by a, PDF made by b: each served by the other, not rendered again
    for fmt, maker, other in (("html", replicas.a, replicas.b), ("pdf", replicas.b, replicas.a)):
        made = report(maker.url, fmt)
        assert made.status_code == 200, made.text
        row = rendered(fmt)
        assert row is not None and made.headers["etag"].strip('"').endswith(row.version)
        served = report(other.url, fmt)
        assert served.status_code == 200, served.text
        assert served.headers["etag"] == made.headers["etag"] and served.content == made.content
        assert served.headers["content-type"] == made.headers["content-type"]
        assert rendered(fmt) == row  # the same rendering, not a new one
        assert report(other.url, fmt, {"If-None-Match": made.headers["etag"]}).status_code == 304
    for folder in replicas.state_dirs:  # no report on either replica's disk
        assert not list(Path(folder).rglob("*.pdf")), folder


def _within(check: Callable[[], bool], since: float, limit_s: float) -> float:
    """Ask ``check`` (True: the change is seen) over and over until a request started ``limit_s`` after
    ``since`` has been answered; every request started after that must see the change. The time from
    ``since`` to the first request that saw it is returned."""
    answers: list[tuple[float, bool]] = []
    while not answers or answers[-1][0] < limit_s + 0.2:
        started = time.monotonic() - since
        answers.append((started, check()))
        time.sleep(0.02)
    late = [seen for started, seen in answers if started >= limit_s]
    assert late and all(late), answers
    return next(started for started, seen in answers if seen)


def test_a_key_revoked_is_refused_by_the_other_replica_within_a_second(replicas, engine):
    name = f"replica-ranger-{os.getpid()}"
    key = add_key(engine, name, "kiemlam", "agency")
    headers = {"X-API-Key": key}
    for server in (replicas.a, replicas.b):  # both replicas know (and cache) the key
        layers = httpx.get(f"{server.url}/layers", headers=headers, timeout=30)
        assert layers.status_code == 200 and "forest_plots" in [x["id"] for x in layers.json()]
    revoke_key(engine, name)
    since = time.monotonic()  # the revocation is committed
    latency = _within(lambda: httpx.get(f"{replicas.b.url}/layers", headers=headers, timeout=30).status_code == 401,
                      since, KEY_TTL_S)
    print(f"revoked key refused by the other replica after {latency:.3f} s")
    assert latency < TOLD_S
    refused = httpx.get(f"{replicas.a.url}/ogc/collections/forest_plots/items", headers=headers, timeout=30)
    assert refused.status_code == 401 and "WWW-Authenticate" in refused.headers


def _set_access(engine, layer_id: str, level: str) -> None:
    with Session(engine) as session:
        session.execute(update(LayerRecord).where(LayerRecord.id == layer_id).values(access_level=level))
        session.commit()


def test_a_layer_hidden_then_shown_is_so_on_the_other_replica_within_a_second(replicas, engine):
    url = f"{replicas.b.url}/ogc/collections/rivers"
    assert httpx.get(url, timeout=30).status_code == 200  # public, and b has its catalogue
    try:
        _set_access(engine, "rivers", "internal")  # hidden from anonymous callers
        since = time.monotonic()
        hidden = _within(lambda: httpx.get(url, timeout=30).status_code == 404, since, CATALOG_CHECK_S)
        _set_access(engine, "rivers", "public")
        since = time.monotonic()
        shown = _within(lambda: httpx.get(url, timeout=30).status_code == 200, since, CATALOG_CHECK_S)
        print(f"layer hidden on the other replica after {hidden:.3f} s, shown again after {shown:.3f} s")
        assert hidden < TOLD_S and shown < TOLD_S
    finally:
        _set_access(engine, "rivers", "public")


def _set_status(engine, item_id: str, status: str) -> None:
    with Session(engine) as session:
        session.execute(update(RasterItem).where(RasterItem.id == item_id).values(status=status))
        session.commit()


def test_a_withdrawn_raster_item_is_gone_from_the_other_replica_within_a_second(replicas, pair, engine):
    url = f"{replicas.b.url}/rasters/{pair.after}/info"
    assert httpx.get(url, timeout=30).status_code == 200  # a public Sentinel-2 item, now in b's item cache
    try:
        _set_status(engine, pair.after, "pending")  # readers see ready items only
        since = time.monotonic()
        gone = _within(lambda: httpx.get(url, timeout=30).status_code == 404, since, ITEM_TTL_S)
        print(f"withdrawn raster item gone from the other replica after {gone:.3f} s")
        assert gone < TOLD_S
    finally:
        _set_status(engine, pair.after, "ready")
    assert httpx.get(url, timeout=30).status_code == 200


def test_a_job_whose_replica_stopped_is_failed_not_left_running(replicas, keys, engine):
    """What a replica that crashed mid-job leaves: a ``running`` row and no lock. Any replica asked about
    it marks it failed (run it again); a job whose lock is held (running somewhere) is left alone."""
    ranger = {"X-API-Key": keys["ranger"]}
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - ORPHAN_AFTER - dt.timedelta(seconds=30)
    orphan, alive = str(uuid.uuid4()), str(uuid.uuid4())
    with Session(engine) as session:
        for job_id in (orphan, alive):
            session.add(ProcessJob(identifier=job_id, type="process", process_id="forest-change", status="running",
                                   created=long_ago, started=long_ago, updated=long_ago, progress=50,
                                   message="Job running", mimetype="application/json"))
        session.commit()
    try:
        with engine.connect() as runner:  # the replica running ``alive``: it holds the job's lock
            runner.execute(select(func.pg_advisory_lock(lock_key(alive))))
            runner.commit()
            failed = _job(replicas.b.url, orphan, ranger).json()
            assert failed["status"] == "failed" and "the server running the job stopped" in failed["message"]
            assert _job(replicas.a.url, alive, ranger).json()["status"] == "running"
            listed = httpx.get(f"{replicas.a.url}/ogc/jobs", params={"f": "json"}, headers=ranger, timeout=30)
            statuses = {j["jobID"]: j["status"] for j in listed.json()["jobs"]}
            assert (statuses[orphan], statuses[alive]) == ("failed", "running")
            runner.execute(select(func.pg_advisory_unlock(lock_key(alive))))
            runner.commit()
        # its replica gone (the lock free): failed, as seen from the other replica
        assert _job(replicas.b.url, alive, ranger).json()["status"] == "failed"
        assert _results(replicas.b.url, alive, ranger).status_code == 400  # pygeoapi: "job failed"
    finally:
        with Session(engine) as session:
            session.execute(delete(ProcessJob).where(ProcessJob.identifier.in_([orphan, alive])))
            session.commit()
