"""Limits: the database's statement_timeout on the server's queries; rate limits of anonymous callers."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text

from api.app import create_app
from sdi.ratelimit import FAMILIES, family_of
from sdi.settings import RATE_FAMILIES, Settings


@pytest.fixture()
def locked(engine, catalog):
    """Hold ACCESS EXCLUSIVE locks on a layer's table and on raster_items (reads wait on them)."""
    prep = engine.dialect.identifier_preparer
    with engine.connect() as conn:
        tx = conn.begin()
        for table in (catalog["admin_units"].sa_table, "raster_items"):
            name = prep.format_table(table) if not isinstance(table, str) else prep.quote(table)
            conn.execute(text(f"LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE"))
        yield
        tx.rollback()


def test_a_query_over_the_limit_is_a_clear_503_and_the_rest_go_on(settings, seeded, engine, catalog, request):
    quick = settings.model_copy(update={"statement_timeout_ms": 400})
    with TestClient(create_app(quick)) as c:
        assert c.get("/ogc/collections/admin_units/items?limit=1").status_code == 200  # warm: views built
        request.getfixturevalue("locked")
        for path in ("/ogc/collections/admin_units/items?limit=5", "/stac/search?limit=5"):
            started = time.monotonic()
            r = c.get(path)
            assert time.monotonic() - started < 10, "cancelled, not hung"
            assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json", r.text
            body = r.json()
            assert body["title"] == "Truy vấn quá thời gian / Query timed out"
            assert "SDI_STATEMENT_TIMEOUT_MS" in body["detail"] and "LOCK" not in body["detail"]
        assert c.get("/layers").status_code == 200  # other requests are served meanwhile
        assert c.get("/ogc/collections/border_gates/items?limit=1").status_code == 200


@pytest.fixture(autouse=True)
def fresh_windows(engine):
    """The default store is the database's (shared by every app and server of the run): each test
    starts with no windows counted."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rate_limit_windows"))


def _limited(settings, **limits: str):
    return settings.model_copy(update={"rate_limits": limits})


def test_anonymous_callers_get_429_with_retry_after_per_family(settings, seeded, keys):
    with TestClient(create_app(_limited(settings, ogc_items="3/minute", tiles="2/minute"))) as c:
        items = "/ogc/collections/border_gates/items?limit=1"
        assert [c.get(items).status_code for _ in range(3)] == [200, 200, 200]
        r = c.get(items)
        assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        body = r.json()
        assert body["family"] == "ogc_items" and "Quá nhiều yêu cầu" in body["detail"] and "retry in" in body["detail"]
        assert c.get("/ogc/collections/border_gates/items/khong-co").status_code == 429  # one family: items
        # other families have their own windows, or none
        assert c.get("/ogc/collections/border_gates/tiles/WebMercatorQuad/8/100/200?f=mvt").status_code != 429
        assert all(c.get("/layers").status_code == 200 for _ in range(10))
        assert all(c.get("/health").status_code == 200 for _ in range(5))
        # staff with a key are not limited; a wrong key is anonymous (and refused)
        staff = {"X-API-Key": keys["planner"]}
        assert all(c.get(items, headers=staff).status_code == 200 for _ in range(6))
        assert c.get(items, headers={"X-API-Key": "sdi_wrong_key"}).status_code == 429


def test_keyed_callers_limited_when_configured(settings, seeded, keys):
    s = _limited(settings, stac_search="2/minute").model_copy(update={"rate_limit_keyed": True})
    with TestClient(create_app(s)) as c:
        codes = [c.get("/stac/search", headers={"X-API-Key": keys["planner"]}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]


@pytest.mark.parametrize("limits", [{"tiles": "lots"}, {"everything": "5/minute"}])
def test_bad_limits_are_refused_at_start(limits):
    with pytest.raises(ValidationError, match="SDI_RATE_LIMITS"):
        Settings(rate_limits=limits)


def test_every_family_can_be_set():
    assert {name for name, _ in FAMILIES} | {"other"} == set(RATE_FAMILIES)
    assert family_of("/rasters/x/tiles/WebMercatorQuad/14/13000/7000.png") == "tiles"
    assert family_of("/rasters/collections/uav/mosaic/tiles/WebMercatorQuad/14/1/2") == "tiles"
    assert family_of("/ogc/collections/forest_plots/tiles/WebMercatorQuad/8/1/2") == "tiles"
    assert family_of("/ogc/collections/forest_plots/items/p1") == "ogc_items"
    assert family_of("/stac/search") == "stac_search" and family_of("/qgis/project.qgs") == "other"
