"""Uploads: POST /stac/collections/{id}/items by staff of the owning agency, streamed under a size
limit, ingested before the answer; refused uploads leave nothing in the store or the catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from tests.conftest import start_server, stop_server
from tests.uav_ingest import rasters
from tests.uav_ingest.helpers import state
from tests.uav_ingest.test_bad_input import empty, no_crs, not_an_image, plain_image

LIMIT = 2_000_000


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("upload")
    return {"app": base / "app-store", "server": base / "server-store", "src": base / "src"}


@pytest.fixture(scope="module", autouse=True)
def cleanup(engine) -> Iterator[None]:
    with engine.connect() as conn:
        before = set(conn.execute(text("SELECT id FROM raster_items")).scalars())
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM raster_items WHERE NOT (id = ANY(:ids))").bindparams(ids=list(before)))


@pytest.fixture(scope="module")
def client(settings, seeded, stores) -> Iterator[TestClient]:
    app_settings = settings.model_copy(update={"raster_store": str(stores["app"]), "max_raster_bytes": LIMIT})
    stores["app"].mkdir(parents=True, exist_ok=True)
    with TestClient(create_app(app_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def server(settings, seeded, stores):  # type: ignore[no-untyped-def]
    stores["server"].mkdir(parents=True, exist_ok=True)
    live = start_server(settings, {"SDI_RASTER_STORE": str(stores["server"]), "SDI_MAX_RASTER_BYTES": str(LIMIT)})
    yield live
    stop_server(live)


@pytest.fixture()
def src(stores) -> Path:
    stores["src"].mkdir(parents=True, exist_ok=True)
    return stores["src"]


def key(keys: dict, role: str) -> dict[str, str]:
    return {"X-API-Key": keys[role]}


def test_ranger_uploads_an_orthomosaic(client, keys, engine, stores, src):
    tif = rasters.uav_rgb(src / "ortho.tif", width=800, height=600, seed=51)
    r = client.post("/stac/collections/uav_rgb/items", headers=key(keys, "ranger"),
                    files={"file": ("Bay_Chi_Lăng 15-03.tif", tif.read_bytes(), "image/tiff")},
                    data={"datetime": "2026-03-15T09:30", "platform": "DJI Mavic 3E"})
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["id"].startswith("bay-chi-lang-15-03-") and item["collection"] == "uav_rgb"
    assert item["properties"]["platform"] == "DJI Mavic 3E" and item["properties"]["datetime"].startswith(
        "2026-03-15T02:30:00")
    assert item["assets"]["data"]["href"] == f"http://testserver/rasters/{item['id']}/cog.tif"
    assert r.headers["location"] == f"http://testserver/stac/collections/uav_rgb/items/{item['id']}"
    assert (stores["app"] / f"uav_rgb/{item['id']}.tif").is_file()
    assert client.get(r.headers["location"], headers=key(keys, "ranger")).json()["id"] == item["id"]
    before = state(engine, stores["app"])
    again = client.post("/stac/collections/uav_rgb/items?datetime=2026-03-15", headers=key(keys, "ranger"),
                        files={"file": ("copy.tif", tif.read_bytes(), "image/tiff")})
    assert again.status_code == 200 and again.json()["id"] == item["id"]  # same file: the existing item
    assert state(engine, stores["app"]) == before


@pytest.mark.parametrize(("role", "collection", "status"), [
    ("anonymous", "uav_rgb", 401),  # internal: hidden from anonymous callers
    ("anonymous", "dem", 401),  # public: visible, but adding needs a key
    ("planner", "uav_rgb", 403),  # visible to any agency, owned by kiemlam
    ("planner", "uav_border", 404),  # restricted: does not exist for them
    ("ranger", "khong_co", 404),
])
def test_who_may_upload(client, keys, engine, stores, src, role, collection, status):
    tif = rasters.uav_rgb(src / "who.tif", width=300, height=300, seed=52)
    before = state(engine, stores["app"])
    headers = {} if role == "anonymous" else key(keys, role)
    r = client.post(f"/stac/collections/{collection}/items?datetime=2026-03-15", headers=headers,
                    content=tif.read_bytes())
    expected = 404 if role == "anonymous" and collection == "uav_rgb" else status
    assert r.status_code == expected and r.headers["content-type"] == "application/problem+json"
    assert state(engine, stores["app"]) == before


def test_border_guard_uploads_to_the_restricted_collection(client, keys, src):
    tif = rasters.uav_rgb(src / "border.tif", width=400, height=300, seed=53)
    r = client.post("/stac/collections/uav_border/items?datetime=2026-03-16&filename=moc_1116.tif",
                    headers={**key(keys, "border"), "content-type": "image/tiff"}, content=tif.read_bytes())
    assert r.status_code == 201 and r.json()["id"].startswith("moc-1116-")


BAD = {
    "zero_byte": (empty, "uav_rgb", 400, "empty_file"),
    "plain_jpeg": (plain_image("JPEG", "jpg"), "uav_rgb", 422, "no_georeference"),
    "no_crs": (no_crs, "uav_rgb", 422, "no_crs"),
    "not_an_image": (not_an_image, "uav_rgb", 415, "not_an_image"),
    "outside_province": (lambda _: rasters.LANDSAT8, "sentinel2_l2a", 422, "outside_province"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_uploads_are_problems_and_leave_nothing(client, keys, engine, stores, src, case):
    make, collection, status, code = BAD[case]
    path = make(src)
    before = state(engine, stores["app"])
    r = client.post(f"/stac/collections/{collection}/items", headers=key(keys, "admin"),
                    files={"file": (path.name, path.read_bytes(), "application/octet-stream")},
                    data={"datetime": "2026-03-15"})
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json", r.text
    assert r.json()["code"] == code and " / " in r.json()["detail"]
    assert state(engine, stores["app"]) == before


def test_missing_datetime_and_missing_file(client, keys, engine, stores, src):
    tif = rasters.uav_rgb(src / "nodate.tif", width=300, height=300, seed=54)
    before = state(engine, stores["app"])
    r = client.post("/stac/collections/uav_rgb/items", headers=key(keys, "ranger"),
                    files={"file": ("a.tif", tif.read_bytes(), "image/tiff")})
    assert r.status_code == 400 and "datetime" in r.json()["detail"]
    r = client.post("/stac/collections/uav_rgb/items", headers=key(keys, "ranger"), data={"datetime": "2026-03-15"},
                    files={"other": (None, "x")})
    assert r.status_code == 400 and "file" in r.json()["detail"]
    assert state(engine, stores["app"]) == before


def test_declared_oversize_is_413_before_reading(client, keys, engine, stores):
    before = state(engine, stores["app"])
    r = client.post("/stac/collections/uav_rgb/items?datetime=2026-03-15", headers=key(keys, "ranger"),
                    content=b"\0" * (LIMIT + 1))
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert state(engine, stores["app"]) == before


def test_live_server_streams_uploads_and_counts_undeclared_bodies(server, keys, engine, stores, src):
    tif = rasters.multispectral(src / "ms.tif", width=300, height=240, seed=55)
    with tif.open("rb") as fh:
        r = httpx.post(f"{server.url}/stac/collections/uav_multispectral/items", headers=key(keys, "ranger"),
                       files={"file": ("ms_flight.tif", fh, "image/tiff")}, data={"datetime": "2026-04-01"},
                       timeout=120)
    assert r.status_code == 201, r.text
    assert r.json()["assets"]["data"]["href"].startswith(server.url + "/rasters/")
    before = state(engine, stores["server"])

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked, counted as it arrives
        for _ in range(LIMIT // 65536 + 2):
            yield b"\0" * 65536

    r = httpx.post(f"{server.url}/stac/collections/uav_rgb/items?datetime=2026-03-15",
                   headers={**key(keys, "ranger"), "content-type": "image/tiff"}, content=chunks(), timeout=60)
    assert r.status_code == 413 and "2,000,000" in r.json()["detail"]
    assert state(engine, stores["server"]) == before
