"""Liveness and readiness, with real parts: the test PostGIS, a real folder, an S3 endpoint nobody listens on."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.app import create_app
from tests.conftest import free_port


@pytest.fixture()
def client(settings, seeded):
    with TestClient(create_app(settings)) as c:
        yield c


def test_health_is_liveness_only(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_ready_names_each_part(client):
    r = client.get("/ready")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert checks["database"] == "ok" and checks["postgis"].startswith("3.") and checks["store"] == "ok (folder)"


def _problem(r, part: str) -> dict:
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json", r.text
    body = r.json()
    assert body["failing"] == [part] and "Chưa sẵn sàng / not ready" in body["detail"]
    return body


def test_ready_503_when_the_store_folder_cannot_be_made(settings, seeded, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad = settings.model_copy(update={"raster_store": str(blocker / "rasters")})
    with TestClient(create_app(bad)) as c:
        body = _problem(c.get("/ready"), "store")
        assert body["checks"]["database"] == "ok" and body["checks"]["store"] == "unreachable"
        assert str(blocker) not in body["detail"]  # the cause goes to the log, not to the caller
        assert c.get("/health").status_code == 200  # liveness does not depend on the store


def test_ready_503_when_the_s3_endpoint_is_closed(settings, seeded):
    bad = settings.model_copy(update={"raster_store": "s3://cogs", "s3_access_key": "k", "s3_secret_key": "s",
                                      "s3_endpoint_url": f"http://127.0.0.1:{free_port()}"})
    with TestClient(create_app(bad)) as c:
        body = _problem(c.get("/ready"), "store")
        assert "127.0.0.1" not in repr(body)


def test_ready_503_when_the_database_is_unreachable(settings, seeded):
    # the app needs the database to start (the catalogue): its engine is then pointed at a closed port
    with TestClient(create_app(settings)) as c:
        good = c.app.state.engine
        c.app.state.engine = create_engine(f"postgresql+psycopg://sdi:x@127.0.0.1:{free_port()}/sdi",
                                           connect_args={"connect_timeout": 2})
        try:
            r = c.get("/ready")
        finally:
            c.app.state.engine.dispose()
            c.app.state.engine = good
        assert r.status_code == 503 and r.json()["failing"] == ["database", "postgis"]
        assert r.json()["checks"]["store"] == "ok (folder)"
