"""``/harvest/sources`` over HTTP: admins only, problem+json refusals, add and run against a real pygeoapi peer."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from tests.layers.harvest_peer import SITES, forget_harvests, start_peer


@pytest.fixture()
def client(settings, seeded, engine):
    with TestClient(create_app(settings.model_copy(update={"harvest_allow_hosts": ["127.0.0.1"]}))) as c:
        yield c
    forget_harvests(engine)


@pytest.fixture()
def peer(tmp_path):
    server = start_peer(tmp_path)
    yield server
    server.stop()


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_admins_only(client, keys, peer):
    assert problem(client.get("/harvest/sources"), 401)["status"] == 401
    body = problem(client.post("/harvest/sources", json={"url": peer.url}, headers={"X-API-Key": keys["planner"]}),
                   403)
    assert "Chỉ quản trị viên / only admins" in body["detail"]
    problem(client.post("/harvest/sources/x/run", headers={"X-API-Key": keys["ranger"]}), 403)


@pytest.mark.parametrize(("body", "message"), [
    ({"url": "ftp://example.org/x"}, "is not an http(s) URL"),
    ({"url": "http://192.168.1.10/ogc"}, "private or loopback address"),
    ({"nothing": 1}, "the body must be a JSON object"),
])
def test_bad_sources_are_problems(client, keys, engine, body, message):
    response = client.post("/harvest/sources", json=body, headers={"X-API-Key": keys["admin"]})
    assert message in problem(response, 400)["detail"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM harvest_sources")).scalar_one() == 0


def test_add_list_run(client, keys, peer, engine):
    admin = {"X-API-Key": keys["admin"]}
    response = client.post("/harvest/sources", json={"url": peer.url, "agency": "skhcn", "access": "internal",
                                                     "id": "peer", "every": "6h"}, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["layers"] == {"diem_du_lich": "hv_peer_diem_du_lich"}
    # internal: the agencies' keys see it through OGC items, anonymous callers do not
    items = client.get("/ogc/collections/hv_peer_diem_du_lich/items?f=json", headers={"X-API-Key": keys["planner"]})
    assert items.status_code == 200 and len(items.json()["features"]) == len(SITES)
    assert client.get("/ogc/collections/hv_peer_diem_du_lich/items?f=json").status_code in (401, 404)
    listed = client.get("/harvest/sources", headers=admin).json()["sources"]
    assert [s["id"] for s in listed] == ["peer"] and listed[0]["every_s"] == 6 * 3600
    peer.publish(SITES[:2])
    ran = client.post("/harvest/sources/peer/run", headers=admin)
    assert ran.status_code == 200 and ran.json()["last_error"] is None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM published.hv_peer_diem_du_lich")).scalar_one() == 2
    assert problem(client.post("/harvest/sources/nope/run", headers=admin), 404)["status"] == 404
