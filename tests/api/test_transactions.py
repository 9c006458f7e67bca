"""OGC API – Features Part 4: rangers edit forest plots through the API, checked like a load.

Every refused write answers a precise 4xx problem+json and leaves the table exactly as it was.
"""

from __future__ import annotations

import copy
import json

import httpx
import pytest
from sqlalchemy import text

from tests.api.publishing import gpkg_of, post_layer


@pytest.fixture(scope="module")
def items_url(live_server) -> str:
    return f"{live_server.url}/ogc/collections/forest_plots/items"


@pytest.fixture(scope="module")
def ranger(keys) -> dict:
    return {"X-API-Key": keys["ranger"], "Content-Type": "application/geo+json"}


@pytest.fixture()
def plot(engine) -> dict:
    """A new plot: a 60 m wide square inside the first sample plot's commune."""
    with engine.connect() as conn:
        commune, geometry = conn.execute(text(
            "SELECT commune_code, ST_AsGeoJSON(ST_Envelope(ST_Buffer(ST_PointOnSurface(geom)::geography, 30)"
            "::geometry), 7) FROM forest_plots ORDER BY plot_code LIMIT 1")).one()
    return {"type": "Feature", "geometry": json.loads(geometry), "properties": {
        "plot_code": "TEST-TK999-K01-L001", "commune_code": commune, "forest_type": "protection",
        "forest_type_vi": "Rừng phòng hộ", "origin": "natural", "origin_vi": "Rừng tự nhiên",
        "species_vi": "Nghiến", "owner_type": "community", "owner_vi": "Cộng đồng thôn Nà Phái",
        "planted_year": None, "source": "kiểm lâm địa bàn / field survey"}}


def _row(engine, code: str):
    with engine.connect() as conn:
        return conn.execute(text("SELECT species_vi, owner_vi, area_ha, ST_IsValid(geom), GeometryType(geom) "
                                 "FROM forest_plots WHERE plot_code = :c"), {"c": code}).one_or_none()


def test_create_read_replace_delete(items_url, ranger, plot, engine):
    code = plot["properties"]["plot_code"]
    created = httpx.post(items_url, content=json.dumps(plot), headers=ranger, timeout=30)
    assert created.status_code == 201, created.text
    assert created.headers["location"].endswith(f"/collections/forest_plots/items/{code}")
    species, owner, area, valid, kind = _row(engine, code)
    assert species == "Nghiến" and owner == "Cộng đồng thôn Nà Phái" and valid and kind == "MULTIPOLYGON"
    assert 0.25 < area < 0.5  # ≈ 60 m × 60 m = 0.36 ha, computed in VN-2000

    got = httpx.get(f"{items_url}/{code}", headers=ranger, timeout=30).json()
    assert got["properties"]["owner_vi"] == "Cộng đồng thôn Nà Phái"

    changed = copy.deepcopy(plot)
    changed["properties"]["species_vi"] = "Trai lý"
    r = httpx.put(f"{items_url}/{code}", content=json.dumps(changed), headers=ranger, timeout=30)
    assert r.status_code in (200, 204), r.text
    assert _row(engine, code)[0] == "Trai lý"

    assert httpx.delete(f"{items_url}/{code}", headers=ranger, timeout=30).status_code in (200, 204)
    assert _row(engine, code) is None
    assert httpx.get(f"{items_url}/{code}", headers=ranger, timeout=30).status_code == 404
    assert httpx.delete(f"{items_url}/{code}", headers=ranger, timeout=30).status_code == 404


def test_options_tells_qgis_it_may_edit(items_url, keys, live_server):
    r = httpx.options(items_url, headers={"X-API-Key": keys["ranger"]}, timeout=30)
    assert r.status_code == 200 and "POST" in r.headers["allow"]
    r = httpx.options(items_url, headers={"X-API-Key": keys["planner"]}, timeout=30)  # sees it, may not edit
    assert r.status_code == 200 and "POST" not in r.headers["allow"]
    r = httpx.options(f"{live_server.url}/ogc/collections/border_gates/items", timeout=30)
    assert "POST" not in r.headers["allow"]


def test_a_create_as_qgis_340_sends_it_null_key_and_capital_location(live_server, keys, engine, tmp_path, made):
    # QGIS 3.40 sends the key column of a new feature as null, and reads only a header spelt "Location"
    made.append("qgis_null_key")
    r = post_layer(live_server.url, gpkg_of(tmp_path / "k.gpkg"), "k.gpkg", keys["planner"], id="qgis_null_key",
                   title_vi="Khoá rỗng", access="public")
    assert r.status_code == 201, r.text
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [106.71, 21.9]},
               "properties": {"fid": None, "ten_cay": "Nghiến mới", "tuoi": None}}
    created = httpx.post(f"{live_server.url}/ogc/collections/qgis_null_key/items", json=feature, timeout=30,
                         headers={"X-API-Key": keys["planner"], "Content-Type": "application/geo+json"})
    assert created.status_code == 201, created.text
    names = [name for name, _ in created.headers.raw]  # as on the wire
    assert b"Location" in names and b"location" not in names
    assert created.headers["location"].endswith("/collections/qgis_null_key/items/5")  # after fid 1…4
    with engine.connect() as conn:
        assert conn.execute(text("SELECT ten_cay FROM published.qgis_null_key WHERE fid = 5")).scalar_one() \
            == "Nghiến mới"


def test_writes_are_audited(items_url, ranger, plot, engine):
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM access_log WHERE action = 'write'")).scalar()
    code = "TEST-AUDIT-1"
    plot["properties"]["plot_code"] = code
    assert httpx.post(items_url, content=json.dumps(plot), headers=ranger, timeout=30).status_code == 201
    assert httpx.delete(f"{items_url}/{code}", headers=ranger, timeout=30).status_code in (200, 204)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT method, status FROM access_log WHERE action = 'write' ORDER BY id")).all()
    assert [tuple(r) for r in rows[before:]] == [("POST", 201), ("DELETE", 200)]


def _bad_inputs(plot: dict) -> dict[str, tuple[int, bytes]]:
    def variant(**changes) -> bytes:
        f = copy.deepcopy(plot)
        for key, value in changes.items():
            if key == "geometry":
                f["geometry"] = value
            elif value is None:
                f["properties"].pop(key, None)
            else:
                f["properties"][key] = value
        return json.dumps(f).encode()

    hanoi = {"type": "Polygon", "coordinates": [[[105.80, 21.00], [105.81, 21.00], [105.81, 21.01],
                                                 [105.80, 21.01], [105.80, 21.00]]]}
    swapped = {"type": "Polygon", "coordinates": [[[y, x] for x, y in plot["geometry"]["coordinates"][0]]]}
    point = {"type": "Point", "coordinates": plot["geometry"]["coordinates"][0][0]}
    return {
        "not json": (400, b"{this is not json"),
        "empty body": (400, b""),
        "feature collection": (400, json.dumps({"type": "FeatureCollection", "features": [plot]}).encode()),
        "geometry garbage": (400, variant(geometry={"type": "Polygon", "coordinates": "nope"})),
        "no geometry": (422, variant(geometry=None)),
        "wrong geometry type": (422, variant(geometry=point)),
        "outside the province": (422, variant(geometry=hanoi)),
        "coordinates swapped": (422, variant(geometry=swapped)),
        "missing required owner": (422, variant(owner_vi=None)),
        "unknown column": (422, variant(nope="x")),
        "existing key": (409, variant(plot_code="__EXISTING__")),
        "injection in a value": (422, variant(commune_code="x'); DROP TABLE forest_plots; --")),
        "too large": (413, json.dumps({**plot, "pad": "x" * (17 * 1024 * 1024)}).encode()),
    }


@pytest.mark.parametrize("case", list(_bad_inputs({"geometry": {"coordinates": [[[0, 0]]]},
                                                    "properties": {}}).keys()))
def test_bad_features_are_refused_and_change_nothing(items_url, ranger, plot, engine, snapshot, case):
    with engine.connect() as conn:
        existing = conn.execute(text("SELECT plot_code FROM forest_plots ORDER BY 1 LIMIT 1")).scalar_one()
    plot["properties"]["plot_code"] = "TEST-BAD-1"
    expected, body = _bad_inputs(plot)[case]
    body = body.replace(b"__EXISTING__", existing.encode())
    before = snapshot("forest_plots")
    r = httpx.post(items_url, content=body, headers=ranger, timeout=60)
    assert r.status_code == expected, (case, r.status_code, r.text[:300])
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] and "Traceback" not in r.text
    assert snapshot("forest_plots") == before, case


def test_oversized_body_without_content_length_is_refused(items_url, ranger, snapshot):
    """A chunked upload has no Content-Length to check: the size is counted as it arrives."""
    before = snapshot("forest_plots")

    def chunks():
        for _ in range(20):
            yield b"x" * (1024 * 1024)

    r = httpx.post(items_url, content=chunks(), headers=ranger, timeout=60)
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert snapshot("forest_plots") == before
