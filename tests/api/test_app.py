"""The HTTP application: in-process (TestClient, lifespan runs) and as a real uvicorn server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from api.app import create_app


@pytest.fixture()
def client(settings, seeded):
    with TestClient(create_app(settings)) as c:
        yield c


def test_ready_reports_postgis(client):
    r = client.get("/ready")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready" and body["checks"]["postgis"].startswith("3.")


def test_landing_page_lists_layers_in_vietnamese_and_english(client, catalog):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Hạ tầng dữ liệu không gian tỉnh Lạng Sơn" in r.text
    for layer in catalog.values():
        shown = escape(layer.title_vi) in r.text and escape(layer.title_en) in r.text
        assert shown == (layer.access_level == "public"), layer.id  # anonymous: public layers only


def test_layers_json_has_counts_and_metadata(client, catalog):
    r = client.get("/layers")
    assert r.status_code == 200
    body = {layer["id"]: layer for layer in r.json()}
    assert body["admin_units"]["feature_count"] == 66
    assert body["admin_units"]["licence"] == "MIT"
    assert body["admin_units"]["extent"][0] == pytest.approx(106.0, abs=0.3)
    assert set(body) == {k for k, v in catalog.items() if v.access_level == "public"}


def test_unknown_layer_is_problem_json(client):
    r = client.get("/layers/khong_co")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404 and "khong_co" in r.json()["detail"]


def test_unknown_path_is_problem_json(client):
    r = client.get("/khong-ton-tai")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_serves_health_and_landing(settings, seeded):
    port = _free_port()
    env = {**os.environ, "SDI_DATABASE_URL": settings.database_url}
    proc = subprocess.Popen([sys.executable, "-m", "sdi.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10).json()["checks"]["database"] == "ok"
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5, headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and "Đơn vị hành chính" in page.text
        assert page.headers.get("content-encoding") == "gzip"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
