"""Fuzzing with schemathesis over the application's OpenAPI document, against a real server.

Every operation gets a few generated requests (hypothesis, ``QUICK`` examples: seconds per operation);
``-m slow`` runs ``THOROUGH`` examples each. Read routes are called anonymously and with a key; write
routes (uploads, searches and statistics by POST) with a key of an agency that owns collections. The
checks: no 5xx, and every response that the document describes matches its schema.
"""

from __future__ import annotations

import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import InvalidSchema
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from sdi.settings import Settings

QUICK, THOROUGH = 3, 60
DOCUMENT = create_app(Settings()).openapi()  # no lifespan: the document needs no database
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item
              if method in ("get", "post", "put", "patch", "delete")]
CHECKS = [not_a_server_error, response_schema_conformance]


def fuzz(server, keys, method: str, path: str, examples: int) -> None:
    operation = SCHEMA[path][method]
    headers = {} if method == "GET" else {"X-API-Key": keys["admin"]}

    @hsettings(max_examples=examples, deadline=None, database=None, derandomize=True,
               phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case) -> None:
        response = case.call(base_url=server.url, headers=headers, timeout=60)
        try:
            case.validate_response(response, checks=CHECKS)
        except InvalidSchema:
            # TiTiler's colour-map response schema (prefixItems inside anyOf, valid OpenAPI 3.1) is
            # refused by schemathesis's response validator: that response is checked for 5xx only
            assert path == "/rasters/colorMaps/{colorMapId}", path
            case.validate_response(response, checks=[not_a_server_error])

    run()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz(live_server, keys, method, path):
    fuzz(live_server, keys, method, path, QUICK)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz_thorough(live_server, keys, method, path):
    fuzz(live_server, keys, method, path, THOROUGH)


#: what fuzzing found and what a fuzzer sends most: NUL bytes, huge numbers, odd Unicode → a 4xx problem
ODD_GETS = ["/stac/search?ids=a%00b", "/stac/search?collections=%00", "/stac/search?datetime=%00",
            "/stac/search?limit=99999999999999999999999", "/stac/search?bbox=1e400,0,1,1",
            "/stac/collections/x%F0%9F%92%A9/items/%E2%80%AE", "/layers/%00",
            "/ogc/collections/admin_units/items?limit=99999999999999999999", "/ogc/collections/admin_units/items/%00",
            "/ogc/collections/admin_units/items?name=%00", "/ogc/collections/admin_units/items?offset=-1",
            "/ogc/collections/admin_units/items?filter=name%3D%27%00%27",
            "/ogc/collections/admin_units/items?datetime=%00",
            "/rasters/%00/info", "/rasters/x/tiles/WebMercatorQuad/99999999999/1/1.png", "/change/reports/%00/x",
            "/qgis/project.qgs?authcfg=%00", "/webmap/features/%00", "/layers/%E1%BA%A1%CC%81%F0%9F%87%BB%F0%9F%87%B3"]
ODD_POSTS = ['{"ids": ["a\\u0000"]}', '{"collections": ["\\u0000"], "limit": 1e30}',
             '{"bbox": [1e308, 0, 1e999, 1]}', '{"datetime": "2026-01-01T00:00:00Z/99999-01-01"}',
             '{"ids": ["\\ud800"]}', '{"limit": -1}', '[]',
             '{"intersects": {"type": "Point", "coordinates": [1e999, 0]}}']


@pytest.mark.parametrize("url", ODD_GETS)
def test_odd_values_are_a_clear_4xx(live_server, url):
    r = httpx.get(live_server.url + url, timeout=30)
    assert 400 <= r.status_code < 500 or r.status_code == 200, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"]


@pytest.mark.parametrize("body", ODD_POSTS)
def test_odd_search_bodies_are_a_clear_4xx(live_server, body):
    r = httpx.post(f"{live_server.url}/stac/search", content=body, headers={"Content-Type": "application/json"},
                   timeout=30)
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json"


def test_nul_byte_in_a_stac_search_is_a_400(live_server):
    r = httpx.get(f"{live_server.url}/stac/search", params={"ids": "a\x00b"}, timeout=30)
    assert r.status_code == 400 and "NUL" in r.json()["detail"]


#: the OGC API document (pygeoapi's, self-contained: api.ogc.openapi) is fuzzed within this many seconds
OGC_BUDGET_S = 40


def test_fuzz_ogc_document(live_server):
    document = httpx.get(f"{live_server.url}/ogc/openapi?f=json", timeout=60).json()
    base = live_server.url + ("" if next(iter(document["paths"])).startswith("/ogc") else "/ogc")
    schema = schemathesis.openapi.from_dict(document)
    deadline = time.monotonic() + OGC_BUDGET_S
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "GET" or time.monotonic() > deadline:
            continue

        @hsettings(max_examples=2, deadline=None, database=None, derandomize=True,
                   phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(base_url=base, timeout=60)
            case.validate_response(response, checks=[not_a_server_error])

        run()
        tried += 1
    assert tried >= 10
