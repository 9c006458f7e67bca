"""Prometheus metrics, scraped with prometheus-client's own parser after real requests: in-process, and
from a real ``sdi serve --workers 2`` where any worker answers for all."""

from __future__ import annotations

import time

import geopandas as gpd
import httpx
import pytest
import shapely
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from layers.loader import load_frame
from sdi.errors import ValidationFailedError
from tests.conftest import start_server, stop_server


def scrape(text: str) -> dict[str, list]:
    """Samples by metric name: [(labels, value), …]."""
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def value(samples: dict[str, list], name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if all(got.get(k) == w for k, w in labels.items()))


@pytest.fixture()
def client(settings, seeded):
    with TestClient(create_app(settings)) as c:
        yield c


def test_metrics_need_a_key(client, keys):
    r = client.get("/metrics")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert "WWW-Authenticate" in r.headers
    assert client.get("/metrics", headers={"Authorization": f"Bearer {keys['planner']}"}).status_code == 200


def test_requests_tiles_items_pool_by_route_template(client, keys, catalog):
    restricted = next(i for i, layer in catalog.items() if layer.access_level == "restricted")
    before = scrape(client.get("/metrics", headers={"X-API-Key": keys["admin"]}).text)
    assert client.get("/layers").status_code == 200
    assert client.get("/ogc/collections/admin_units/items?limit=2").status_code == 200
    assert client.get(f"/ogc/collections/{restricted}/items").status_code == 404  # hidden from anonymous
    assert client.get("/rasters/khong-co/tiles/WebMercatorQuad/3/6/3.png").status_code == 404
    assert client.get(f"/khong-co/{keys['planner']}").status_code == 404
    text = client.get("/metrics", headers={"X-API-Key": keys["admin"]}).text
    after = scrape(text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("sdi_http_requests_total", method="GET", route="/layers", status="200") == 1
    items = "/ogc/collections/{collectionId}/items"
    assert grew("sdi_http_requests_total", route=items, status="200") == 1
    assert grew("sdi_http_requests_total", route=items, status="404") == 1
    assert grew("sdi_http_request_duration_seconds_count", route=items) == 2
    assert grew("sdi_ogc_items_requests_total", status="200") == 1
    assert grew("sdi_raster_tiles_total", status="404") == 1
    assert grew("sdi_http_requests_total", route="unmatched", status="404") == 1
    assert value(after, "sdi_db_pool_size") >= 5 and "sdi_db_pool_checked_out" in after
    # labels are templates: no restricted layer id, no key, no raw path
    assert restricted not in text and keys["planner"] not in text and "khong-co" not in text


def test_jobs_counted_by_outcome(client, keys, engine, settings, catalog):
    before = scrape(client.get("/metrics", headers={"X-API-Key": keys["admin"]}).text)
    bad = gpd.GeoDataFrame({"code": ["x"]}, geometry=[shapely.Point(0, 0)], crs=4326)  # outside the province
    with pytest.raises(ValidationFailedError):
        load_frame(bad, catalog["border_gates"], engine=engine, settings=settings, source="test")
    after = scrape(client.get("/metrics", headers={"X-API-Key": keys["admin"]}).text)
    assert value(after, "sdi_jobs_total", kind="load", outcome="refused") - value(
        before, "sdi_jobs_total", kind="load", outcome="refused") == 1
    assert value(after, "sdi_job_duration_seconds_count", kind="load") > value(
        before, "sdi_job_duration_seconds_count", kind="load")


def test_any_worker_answers_for_all(settings, seeded, keys, tmp_path):
    server = start_server(settings, {"SDI_STATE_DIR": str(tmp_path)}, args=("--workers", "2"))
    try:
        with httpx.Client(base_url=server.url, timeout=20) as http:
            admin = {"X-API-Key": keys["admin"], "Connection": "close"}
            deadline = time.monotonic() + 30  # /health answered from the first worker; the second may still start
            while value(scrape(http.get("/metrics", headers=admin).text), "sdi_db_pool_size") != 10:
                assert time.monotonic() < deadline, "the second worker never reported its pool"
                time.sleep(0.3)
            for _ in range(12):
                assert http.get("/layers", headers={"Connection": "close"}).status_code == 200
            seen = set()
            for _ in range(6):  # new connections: the kernel spreads them over both workers
                got = scrape(http.get("/metrics", headers=admin).text)
                seen.add(value(got, "sdi_http_requests_total", route="/layers", status="200"))
                assert value(got, "sdi_db_pool_size") == 10  # two workers, five connections each
        assert seen == {12}
        assert list((tmp_path / "prometheus").iterdir())  # the multiprocess folder under the state dir
    finally:
        stop_server(server)
