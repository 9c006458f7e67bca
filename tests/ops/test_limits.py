"""Limits: the database's statement_timeout on the server's queries; rate limits of anonymous callers."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app


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
