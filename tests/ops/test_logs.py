"""JSON logs with the request id, read from a real ``sdi serve``'s output."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from tests.conftest import start_server, stop_server


@pytest.fixture(scope="module")
def json_server(settings, seeded, tmp_path_factory):
    blocker = tmp_path_factory.mktemp("store") / "a-file"
    blocker.write_text("not a folder")  # the store cannot be made: /ready logs why, inside the request
    server = start_server(settings, {"SDI_LOG_FORMAT": "json", "SDI_LOG_LEVEL": "INFO",
                                     "SDI_RASTER_STORE": str(blocker / "rasters")})
    yield server
    stop_server(server)


def lines(server) -> list[dict]:
    text = server.output()
    out = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is a JSON object
    assert all({"time", "level", "logger", "message", "request_id"} <= set(o) for o in out)
    return out


def wait_for(server, predicate, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = [o for o in lines(server) if predicate(o)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_callers_request_id_is_in_every_line_of_its_request(json_server):
    r = httpx.get(f"{json_server.url}/ready", headers={"X-Request-ID": "qgis-7f3a.run_2"}, timeout=30)
    assert r.status_code == 503 and r.headers["X-Request-ID"] == "qgis-7f3a.run_2"
    mine = wait_for(json_server, lambda o: o["request_id"] == "qgis-7f3a.run_2" and "GET /ready" in o["message"])
    assert mine, "the access log line carries the id"
    own = [o for o in lines(json_server) if o["request_id"] == "qgis-7f3a.run_2"]
    assert {o["logger"] for o in own} >= {"api.ops", "uvicorn.access"}  # the app's error and the access log
    # no line of this request without its id
    assert not [o for o in lines(json_server) if "raster store unusable" in o["message"] and o["request_id"] == "-"]


def test_an_id_is_generated_when_none_or_an_unsafe_one_is_sent(json_server):
    for sent in (None, "x" * 129, "bad id", "a\u0301".encode(), "line\\nbreak;{}"):
        headers = {} if sent is None else {"X-Request-ID": sent}
        r = httpx.get(f"{json_server.url}/layers", headers=headers, timeout=30)
        got = r.headers["X-Request-ID"]
        assert r.status_code == 200 and got != sent and re.fullmatch(r"[0-9a-f]{32}", got), (sent, got)
        assert wait_for(json_server, lambda o, got=got: o["request_id"] == got and "GET /layers" in o["message"])
    assert not [o for o in lines(json_server) if "bad id" in o["request_id"]]
