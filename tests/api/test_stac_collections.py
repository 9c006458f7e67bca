"""Raster collections an agency creates: ``POST /stac/collections`` and ``sdi ingest --create``; a flight
then goes into the new collection, and the collection follows the access rule like every other."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import start_server, stop_server
from tests.uav_ingest.rasters import uav_rgb

PROBLEM = "application/problem+json"


def _collections(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT id FROM raster_collections")).scalars())


@pytest.fixture()
def made_collections(engine) -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    with engine.begin() as conn:
        for collection in ids:
            conn.execute(text("DELETE FROM raster_items WHERE collection_id = :c"), {"c": collection})
            conn.execute(text("DELETE FROM raster_collections WHERE id = :c"), {"c": collection})


@pytest.fixture(scope="module")
def server(settings, seeded, tmp_path_factory) -> Iterator:
    store = tmp_path_factory.mktemp("collections-store")
    live = start_server(settings, {"SDI_RASTER_STORE": str(store)})
    yield live
    stop_server(live)


def _new(server, key: str | None, **body) -> httpx.Response:
    doc = {"type": "Collection", "id": "rung-phong-ho-2026", "title": "Rừng phòng hộ 2026",
           "sdi:title_en": "Protection forest 2026", "description": "Bay kiểm tra rừng phòng hộ",
           "license": "CC-BY-4.0", "sdi:kind": "rgb", **body}
    return httpx.post(f"{server.url}/stac/collections", json=doc, headers={"X-API-Key": key} if key else {},
                      timeout=60)


def test_rangers_create_a_collection_and_upload_a_flight_into_it(server, keys, engine, tmp_path, made_collections):
    made_collections.append("rung-phong-ho-2026")
    resp = _new(server, keys["ranger"])
    assert resp.status_code == 201, resp.text
    assert resp.json()["id"] == "rung-phong-ho-2026" and resp.headers["location"].endswith("/rung-phong-ho-2026")
    got = httpx.get(f"{server.url}/stac/collections/rung-phong-ho-2026", headers={"X-API-Key": keys["ranger"]},
                    timeout=30)
    assert got.status_code == 200 and "Rừng phòng hộ 2026" in got.json()["title"]
    # internal by default: anonymous callers do not see it
    assert httpx.get(f"{server.url}/stac/collections/rung-phong-ho-2026", timeout=30).status_code == 404
    flight = uav_rgb(tmp_path / "flight.tif")
    upload = httpx.post(f"{server.url}/stac/collections/rung-phong-ho-2026/items",
                        files={"file": ("flight.tif", flight.read_bytes())}, data={"datetime": "2026-11-30"},
                        headers={"X-API-Key": keys["ranger"]}, timeout=300)
    assert upload.status_code == 201, upload.text
    assert upload.json()["collection"] == "rung-phong-ho-2026"
    again = _new(server, keys["ranger"])
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


def test_who_may_create_and_what_is_refused(server, keys, engine):
    before = _collections(engine)
    assert _new(server, None).status_code == 401
    assert _new(server, keys["planner"], **{"sdi:owner": "kiemlam"}).status_code == 403
    for bad, detail in [({"id": "Có Dấu"}, "id"), ({"id": "a b"}, "id"), ({"id": "x" * 200}, "id"),
                        ({"sdi:kind": "hyperspectral"}, "kind"), ({"title": ""}, "Vietnamese title"),
                        ({"sdi:access_level": "secret"}, "access_level")]:
        resp = _new(server, keys["ranger"], **bad)
        assert resp.status_code == 400 and resp.headers["content-type"].startswith(PROBLEM), (bad, resp.text)
        assert detail in resp.json()["detail"], (bad, resp.json()["detail"])
    not_json = httpx.post(f"{server.url}/stac/collections", content=b"{nope", headers={"X-API-Key": keys["ranger"]},
                          timeout=30)
    assert not_json.status_code == 400
    assert _collections(engine) == before


def test_sdi_ingest_creates_the_collection_it_is_told_to(settings, seeded, engine, tmp_path, made_collections):
    made_collections.append("bay-thu-nghiem")
    flight = uav_rgb(tmp_path / "f.tif")
    env = {**os.environ, "SDI_DATABASE_URL": settings.database_url, "SDI_RASTER_STORE": str(tmp_path / "store"),
           "COLUMNS": "300"}  # the summary table on one line per file
    cmd = [sys.executable, "-m", "sdi.cli", "ingest", str(flight), "--collection", "bay-thu-nghiem",
           "--datetime", "2026-11-30"]
    missing = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "--create" in missing.stdout  # the summary says how
    created = subprocess.run([*cmd, "--create", "--kind", "rgb", "--title-vi", "Bay thử nghiệm", "--owner",
                              "kiemlam"], env=env, capture_output=True, text=True, timeout=300)
    assert created.returncode == 0, created.stdout + created.stderr
    with engine.connect() as conn:
        row = conn.execute(text("SELECT kind, access_level, owner FROM raster_collections WHERE id = 'bay-thu-nghiem'"))
        assert tuple(row.one()) == ("rgb", "internal", "kiemlam")
        assert conn.execute(text("SELECT count(*) FROM raster_items WHERE collection_id = 'bay-thu-nghiem' "
                                 "AND status = 'ready'")).scalar_one() == 1
