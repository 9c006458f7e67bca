"""The records catalogue (/ogc/collections/catalogue) answers standard clients like every other collection:
its Part 2 CRS list, every layer and raster collection the caller may see (and nothing else), keywords in
Vietnamese and English readable through GDAL's OAPIF driver (pyogrio, and ogr2ogr into a GeoPackage)."""

from __future__ import annotations

import json
import subprocess

import httpx
import pyogrio
import pytest
from sqlalchemy import text

from sdi.access import ANONYMOUS, Principal, visible

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CATALOGUE = "catalogue"


@pytest.fixture(scope="module")
def ogc(live_server) -> str:
    return live_server.url + "/ogc"


def _expected(engine, who: Principal) -> set[str]:
    """Every layer and raster collection ``who`` may see, straight from the catalogue tables."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, access_level, owner_agency AS owner, grants FROM layers "
                                 "UNION ALL SELECT id, access_level, owner, grants FROM raster_collections")).all()
    return {row.id for row in rows if visible(row, who)}


def _keywords(engine) -> dict[str, tuple[list[str], list[str]]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, keywords, keywords_en FROM layers UNION ALL "
                                 "SELECT id, keywords, ARRAY[]::text[] FROM raster_collections")).all()
    return {row.id: (list(row.keywords or []), list(row.keywords_en or [])) for row in rows}


def test_the_catalogue_lists_its_crs_like_every_collection(ogc):
    doc = httpx.get(f"{ogc}/collections/{CATALOGUE}", params={"f": "json"}, timeout=30).json()
    assert doc["itemType"] == "record"
    assert doc["crs"] == [CRS84] and doc["storageCrs"] == CRS84
    listed = httpx.get(f"{ogc}/collections", params={"f": "json"}, timeout=30).json()["collections"]
    entry = next(c for c in listed if c["id"] == CATALOGUE)
    assert entry["crs"] == [CRS84] and entry["storageCrs"] == CRS84
    # every collection of the list carries a CRS list (what clients reading Part 2 rely on)
    assert all(c.get("crs") for c in listed if c.get("itemType") in ("feature", "record")), \
        [c["id"] for c in listed if not c.get("crs")]
    # a CRS it does not offer is refused, as for the feature collections
    other = httpx.get(f"{ogc}/collections/{CATALOGUE}/items",
                      params={"crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}, timeout=30)
    assert other.status_code == 400 and other.headers["content-type"].startswith("application/problem+json")
    assert "CRS84" in other.json()["detail"]


@pytest.mark.parametrize("role", ["anonymous", "ranger", "border"])
def test_records_of_every_visible_layer_and_raster_collection(ogc, engine, keys, role):
    who = ANONYMOUS if role == "anonymous" else Principal(
        agency={"ranger": "kiemlam", "border": "bdbp"}[role], role="agency" if role == "ranger" else "border")
    expected = _expected(engine, who)
    with engine.connect() as conn:
        rasters = set(conn.execute(text("SELECT id FROM raster_collections")).scalars())
    assert expected & rasters and expected - rasters  # both kinds are there for every caller
    headers = {"X-API-Key": keys[role]} if role != "anonymous" else {}
    body = httpx.get(f"{ogc}/collections/{CATALOGUE}/items", params={"limit": 1000}, headers=headers,
                     timeout=30).json()
    ids = {f["id"] for f in body["features"]}
    assert ids == expected and body["numberMatched"] == len(expected)
    raster = next(f for f in body["features"] if f["id"] in rasters)
    assert any(link["href"].endswith(f"/stac/collections/{raster['id']}") for link in raster["links"])
    hidden = sorted((rasters | set(_keywords(engine))) - expected)
    if hidden:  # a record the caller may not see is unknown
        assert httpx.get(f"{ogc}/collections/{CATALOGUE}/items/{hidden[0]}", headers=headers,
                         timeout=30).status_code == 404


def test_gdal_oapif_reads_the_records_with_readable_keywords(ogc, engine):
    frame = pyogrio.read_dataframe(f"OAPIF:{ogc}", layer=CATALOGUE)
    expected = _expected(engine, ANONYMOUS)
    assert set(frame["id"]) == expected and len(frame) == len(expected)
    keywords = _keywords(engine)
    for _, row in frame.iterrows():
        vi, en = keywords[row["id"]]
        assert _as_list(row["keywords"]) == vi, (row["id"], row["keywords"])
        assert _as_list(row["keywords_en"]) == en, (row["id"], row["keywords_en"])
    assert any(keywords[i][0] for i in expected)  # something to read
    # Vietnamese kept whole
    assert any("Lạng Sơn" in t or "biên giới" in t for t in frame["title"].tolist())


def _as_list(value) -> list[str]:
    """A StringList as GDAL gives it (a list or array; None for an empty one)."""
    return [] if value is None else [str(v) for v in value]


def test_ogr2ogr_copies_the_records_into_a_geopackage(ogc, engine, tmp_path):
    out = tmp_path / "records.gpkg"
    done = subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{ogc}/collections/{CATALOGUE}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ERROR" not in done.stderr, done.stderr
    frame = pyogrio.read_dataframe(out)
    expected = _expected(engine, ANONYMOUS)
    assert set(frame["id"]) == expected and len(frame) == len(expected)
    keywords = _keywords(engine)
    for _, row in frame.iterrows():
        vi, _en = keywords[row["id"]]
        assert _string_list(row["keywords"]) == vi, (row["id"], row["keywords"])
    # objects and lists of objects (languages, contacts) as JSON, not "[object]"
    assert all(_json(v) == [{"code": "vi"}, {"code": "en"}] for v in frame["languages"]), frame["languages"]
    assert all(_json(v)[0]["roles"] == ["owner"] for v in frame["contacts"])


def _string_list(value) -> list[str]:
    """A StringList as a GeoPackage holds it: GDAL 3.6's ogr2ogr writes "(n:a,b,…)" (3.7 and later: JSON)."""
    if not value:
        return []
    if value.startswith("["):
        return json.loads(value)
    count, _, rest = value.strip("()").partition(":")
    words = rest.split(",")
    assert len(words) == int(count), value  # no keyword holds a comma in the bundled catalogue
    return words


def _json(value):
    """A JSON field of the GeoPackage as pyogrio gives it (parsed, or a JSON string)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise AssertionError(repr(value)) from None
    return None if value is None else [dict(v) if isinstance(v, dict) else v for v in value]
