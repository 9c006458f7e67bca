"""OGC API – Processes: forest-change runs asynchronously with job status; only rangers and admins execute."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import text


def test_forest_change_process_async(live_server, keys, change_items, engine, clean_events):
    base = f"{live_server.url}/ogc"
    listed = httpx.get(f"{base}/processes", timeout=30).json()
    assert "forest-change" in [p["id"] for p in listed["processes"]]
    url = f"{base}/processes/forest-change/execution"
    body = {"inputs": {"before": change_items.s2_before, "after": change_items.s2_after}}
    assert httpx.post(url, json=body, timeout=30).status_code == 401
    assert httpx.post(url, json=body, headers={"X-API-Key": keys["planner"]}, timeout=30).status_code == 403
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM change_events")).scalar() == 0
    started = httpx.post(url, json=body, headers={"X-API-Key": keys["ranger"], "Prefer": "respond-async"},
                         timeout=60)
    assert started.status_code == 201, started.text
    job = started.headers["location"]
    assert "/jobs/" in job
    ranger = {"X-API-Key": keys["ranger"]}
    # job status and results are for those who may run processes, not for everyone
    assert httpx.get(job, params={"f": "json"}, timeout=30).status_code == 401
    assert httpx.get(job, params={"f": "json"}, headers={"X-API-Key": keys["planner"]}, timeout=30).status_code == 403
    assert httpx.get(f"{base}/jobs", params={"f": "json"}, timeout=30).status_code == 401
    assert httpx.get(f"{job}/results", params={"f": "json"}, timeout=30).status_code == 401
    deadline = time.monotonic() + 90
    while True:
        status = httpx.get(job, params={"f": "json"}, headers=ranger, timeout=30).json()
        if status["status"] in ("successful", "failed") or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status["status"] == "successful", status.get("message")
    results = httpx.get(f"{job}/results", params={"f": "json"}, headers=ranger, timeout=30).json()
    summary = results.get("summary", results)
    assert summary["events"] > 0 and summary["written"] == summary["events"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM change_events")).scalar() == summary["events"]
    # a bad input fails the job with a precise message and writes nothing more
    bad = httpx.post(url, json={"inputs": {"before": "nope", "after": change_items.s2_after}},
                     headers={"X-API-Key": keys["admin"]}, timeout=60)
    assert bad.status_code >= 400 and "no raster item 'nope'" in bad.text
