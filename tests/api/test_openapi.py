"""The OpenAPI document at /ogc/openapi: self-contained (no schema fetched from the internet),
valid OpenAPI 3.0, with the configured limits, and only the caller's layers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import OpenAPIV30SpecValidator
from pygeoapi.openapi import OPENAPI_YAML

from api.app import create_app
from api.ogc.openapi import VENDORED, bundle


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.fixture(scope="module")
def documents(settings, seeded, keys) -> dict:
    """The document for an anonymous caller and for an administrator, and how long each took."""
    out: dict = {}
    with TestClient(create_app(settings)) as client:
        for who, headers in (("anonymous", {}), ("admin", {"X-API-Key": keys["admin"]})):
            start = time.monotonic()
            r = client.get("/ogc/openapi", params={"f": "json"}, headers=headers)
            out[f"{who}_seconds"] = time.monotonic() - start
            assert r.status_code == 200, r.text
            out[who] = r.json()
    return out


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_document_is_self_contained_and_valid_openapi_30(documents, who):
    doc = documents[who]
    refs = list(_refs(doc))
    assert refs and not [r for r in refs if r.startswith("http")]
    assert all(r.startswith("#/components/") for r in refs), [r for r in refs if not r.startswith("#")]
    assert doc["openapi"].startswith("3.0")
    errors = [e.message for e in OpenAPIV30SpecValidator(doc).iter_errors()]
    assert not errors, errors[:5]
    # the copies of OGC schemas are in, under their source's prefix
    components = doc["components"]
    assert "features1.Features" in components["responses"]
    assert "tiles1.tileMatrixSetId" in components["parameters"]
    assert "cql2.cql2expression" in components["schemas"]
    assert "OGC" in doc["info"]["x-schema-notice"]


def test_limit_parameter_has_the_configured_default_and_maximum(documents, settings):
    limits = [p["schema"] for item in documents["anonymous"]["paths"].values() for op in item.values()
              if isinstance(op, dict) for p in op.get("parameters", [])
              if isinstance(p, dict) and p.get("name") == "limit"]
    assert limits  # every items path has one
    assert settings.ogc_max_items == 10_000 and settings.ogc_default_items == 100
    for schema in limits:
        assert schema["maximum"] == 10_000 and schema["default"] == 100 and schema["minimum"] == 1


def test_paths_are_those_of_the_callers_layers(documents):
    anonymous = set(documents["anonymous"]["paths"])
    assert "/collections/border_gates/items" in anonymous
    assert not [p for p in anonymous if p.startswith(("/collections/border_belt", "/collections/forest_plots",
                                                      "/collections/change_events"))]
    admin = set(documents["admin"]["paths"])
    assert "/collections/border_belt/items" in admin
    assert "/collections/border_gates/items" in admin
    assert "/collections/change_events/items" in admin


def test_processes_are_documented_with_the_vendored_processes_schemas(documents):
    # OGC API - Processes (forest-change): its paths are in, their OGC refs bundled as processes1.*
    for who in ("anonymous", "admin"):
        doc = documents[who]
        assert {"/processes", "/processes/forest-change", "/processes/forest-change/execution",
                "/jobs", "/jobs/{jobId}"} <= set(doc["paths"])
        assert {"processes1.ProcessList", "processes1.ExecuteAsync", "processes1.NotFound",
                "processes1.ServerError"} <= set(doc["components"]["responses"])
        assert "processes1.execute" in doc["components"]["schemas"]


def test_document_is_built_quickly(documents):
    # built on the first request of each view, then cached
    assert documents["anonymous_seconds"] < 10 and documents["admin_seconds"] < 10


def test_every_schema_location_pygeoapi_uses_is_vendored():
    for key in ("cql2", "oapif-1", "oapip", "oapir", "oapit"):
        location = OPENAPI_YAML[key]
        assert any(f"{location}/".startswith(p) or location.startswith(p) for p in VENDORED), location


def test_a_ref_to_a_file_not_vendored_is_an_error_not_a_download():
    doc = {"openapi": "3.0.2", "info": {"title": "t", "version": "1"},
           "paths": {"/": {"get": {"responses": {"200": {"$ref": "https://example.org/x.yaml#/a"}}}}}}
    with pytest.raises(LookupError, match="not vendored"):
        bundle(doc)


def test_relative_refs_inside_vendored_files_are_followed():
    tiles = "https://schemas.opengis.net/ogcapi/tiles/part1/1.0/openapi/ogcapi-tiles-1.yaml"
    doc = {"openapi": "3.0.2", "info": {"title": "t", "version": "1"},
           "paths": {"/t/{tileMatrixSetId}": {"get": {
               "parameters": [{"$ref": f"{tiles}#/components/parameters/tileMatrixSetId"}],
               "responses": {"200": {"description": "ok"}}}}}}
    out = bundle(doc)
    param = out["components"]["parameters"]["tiles1.tileMatrixSetId"]
    # parameters/unspecified/tileMatrixSetId.yaml → ../../schemas/dynamic/… → ../../api/tileMatrixSets.json
    assert param["schema"] == {"$ref": "#/components/schemas/tiles1.tileMatrixSets"}
    assert out["components"]["schemas"]["tiles1.tileMatrixSets"]["enum"] == ["WebMercatorQuad", "WorldCRS84Quad"]
    assert not list(OpenAPIV30SpecValidator(out).iter_errors())
