"""Rate limits shared by replicas: two real ``sdi serve`` processes on one database count one window."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import start_server, stop_server

LIMIT = 6


@pytest.fixture()
def limited_pair(settings, seeded, engine, tmp_path_factory):
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rate_limit_windows"))
    env = {"SDI_RATE_LIMITS": f'{{"ogc_items": "{LIMIT}/minute"}}'}
    a = start_server(settings, {**env, "SDI_STATE_DIR": str(tmp_path_factory.mktemp("limit-a"))})
    try:
        b = start_server(settings, {**env, "SDI_STATE_DIR": str(tmp_path_factory.mktemp("limit-b"))})
    except BaseException:
        stop_server(a)
        raise
    yield a, b
    stop_server(a)
    stop_server(b)


def test_the_limit_holds_across_two_replicas(limited_pair):
    a, b = limited_pair
    path = "/ogc/collections/border_gates/items?limit=1"
    codes = []
    for i in range(2 * LIMIT):  # alternating, as a load balancer without stickiness would send them
        codes.append(httpx.get((a if i % 2 == 0 else b).url + path, timeout=30).status_code)
    assert codes[:LIMIT] == [200] * LIMIT, codes
    assert codes[LIMIT:] == [429] * LIMIT, codes  # per-replica counting would let 2 × LIMIT through
    refused = httpx.get(b.url + path, timeout=30)
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Quá nhiều yêu cầu" in refused.json()["detail"]
