"""QGIS: the OGC API read by real QGIS (OAPIF provider), and the ``/qgis/project.qgs`` project.

QGIS runs under the system Python (Debian ``python3-qgis``, ``qgis-providers``; ``make test``
installs them) through ``tests/qgis/qgis_load.py``, headless, with a throw-away profile, against
the session's real server. The QGIS tests are skipped only when ``/usr/bin/python3`` cannot
import ``qgis.core``; the checks of the project's XML and of the access rule run everywhere.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from api.qgis import DEFAULT_AUTHCFG

SYSTEM_PYTHON = "/usr/bin/python3"
HELPER = Path(__file__).resolve().parents[1] / "qgis" / "qgis_load.py"
LON, LAT = (102.0, 110.0), (20.0, 24.0)  # around Lạng Sơn: x is longitude, y latitude
HUU_NGHI = (106.71, 21.98)


# --- helpers -------------------------------------------------------------------------------------

def qgis_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment for QGIS: offscreen, its profile and auth database under ``home``."""
    runtime = home / "run"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen", **extra}


@pytest.fixture(scope="module")
def qgis(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skip when the system Python has no QGIS bindings."""
    home = tmp_path_factory.mktemp("qgis-check")
    try:
        proc = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], env=qgis_env(home),
                              capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.skip(f"{SYSTEM_PYTHON} not found: QGIS tests need the system Python with python3-qgis")
    if proc.returncode != 0:
        pytest.skip(f"{SYSTEM_PYTHON} cannot import qgis.core (apt-get install python3-qgis qgis-providers; "
                    f"`make test` installs them): {proc.stderr.strip()[-300:]}")


def run_qgis(home: Path, *args: str, key: str | None = None) -> dict:
    """Run the QGIS helper; its JSON findings."""
    out = home / "result.json"
    env = qgis_env(home, **({"SDI_QGIS_KEY": key} if key else {}))
    proc = subprocess.run([SYSTEM_PYTHON, str(HELPER), *args, "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, f"QGIS helper failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


def db_count(engine, layer) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(layer.sa_table)).scalar_one()


def public_ids(catalog) -> set[str]:
    return {i for i, layer in catalog.items() if layer.access_level == "public"}


def download(live_server, headers: dict | None = None, **params: str) -> httpx.Response:
    return httpx.get(f"{live_server.url}/qgis/project.qgs", headers=headers or {}, params=params, timeout=60)


def maplayers(xml: bytes) -> list[ET.Element]:
    """The project's vector layers (raster items, ``raster_…``, are tested in tests/tiles)."""
    return [m for m in ET.fromstring(xml).find("projectlayers") if m.get("type") != "raster"]


def typenames(xml: bytes) -> set[str]:
    """The collections the project's OAPIF layers read."""
    names = set()
    for layer in maplayers(xml):
        if layer.findtext("provider") == "OAPIF":
            source = layer.findtext("datasource")
            names.add(source.split("typename='", 1)[1].split("'", 1)[0])
    return names


def collection_of(layer_id: str) -> str:
    return layer_id.rsplit("_", 1)[0]


# --- the project's XML and the access rule (no QGIS needed) ------------------------------------

def test_anonymous_project_has_every_public_layer_and_nothing_else(live_server, catalog):
    r = download(live_server)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-qgis-project"
    assert "attachment" in r.headers["content-disposition"]
    assert typenames(r.content) == public_ids(catalog)
    assert "forest_plots" not in r.text and "border_belt" not in r.text and "authcfg" not in r.text
    for layer in maplayers(r.content):
        assert layer.findtext("datasource").startswith(("url='" + live_server.url + "/ogc'",
                                                        "type=xyz&url=" + live_server.url + "/ogc/"))
        lid = collection_of(layer.findtext("id"))
        assert layer.findtext("layername").startswith(f"{catalog[lid].title_vi} / {catalog[lid].title_en}")


def test_border_key_project_lists_border_belt_but_never_the_key(live_server, keys, catalog):
    key = keys["border"]
    r = download(live_server, {"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    assert typenames(r.content) == public_ids(catalog) | {"border_belt", "forest_plots", "change_events"}
    assert key not in r.text and key.split("_")[2] not in r.text
    for layer in maplayers(r.content):
        assert layer.findtext("datasource").endswith(f"authcfg={DEFAULT_AUTHCFG}")
    assert f"Id = {DEFAULT_AUTHCFG}" in ET.fromstring(r.content).find("projectMetadata").findtext("abstract")
    tiles = [m for m in maplayers(r.content) if m.findtext("provider") == "vectortile"]
    assert [m.findtext("id") for m in tiles] == ["forest_plots_tiles"]  # the one layer over a QGIS page
    # the same caller by X-API-Key and by HTTP Basic (QGIS's Basic authentication), own authcfg id
    assert typenames(download(live_server, {"X-API-Key": key}).content) == typenames(r.content)
    basic = httpx.get(f"{live_server.url}/qgis/project.qgs", params={"authcfg": "abc1234"}, auth=("qgis", key),
                      timeout=60)
    assert typenames(basic.content) == typenames(r.content) and "authcfg=abc1234" in basic.text


def test_agency_key_sees_internal_but_not_restricted_layers(live_server, keys, catalog):
    r = download(live_server, {"X-API-Key": keys["planner"]})
    assert typenames(r.content) == public_ids(catalog) | {"forest_plots", "change_events"}


def test_bad_key_is_401_and_bad_authcfg_is_400(live_server):
    r = download(live_server, {"Authorization": "Bearer sdi_00000000_" + "x" * 43})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert "Basic" in r.headers["www-authenticate"]
    r = download(live_server, authcfg="not an id")
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


# --- real QGIS -----------------------------------------------------------------------------------

def test_qgis_reads_every_public_collection(qgis, live_server, catalog, engine, tmp_path):
    ids = sorted(public_ids(catalog))
    result = run_qgis(tmp_path, "collections", live_server.url + "/ogc", *ids)
    for lid in ids:
        got, layer = result[lid], catalog[lid]
        assert got["valid"], f"{lid}: {got.get('error')}"
        assert len(got["features"]) == got["feature_count"] == db_count(engine, layer), lid
        if layer.has_geometry:
            assert got["crs"] in ("EPSG:4326", "OGC:CRS84"), lid
            for feature in got["features"]:
                xmin, ymin, xmax, ymax = feature["bbox"]
                assert LON[0] < xmin <= xmax < LON[1] and LAT[0] < ymin <= ymax < LAT[1], (lid, feature)
    gates = {f["attrs"]["code"]: f["bbox"] for f in result["border_gates"]["features"]}
    assert gates["huu_nghi"][:2] == pytest.approx(HUU_NGHI, abs=0.02)  # lon, lat: not swapped
    names = {f["attrs"]["name"] for f in result["admin_units"]["features"]}
    assert {"Đồng Đăng", "Lạng Sơn", "Hữu Lũng"} <= names  # Vietnamese text intact


def test_anonymous_project_opens_and_draws_in_qgis(qgis, live_server, catalog, engine, tmp_path):
    path = tmp_path / "langson.qgs"
    path.write_bytes(download(live_server).content)
    project = run_qgis(tmp_path, "project", str(path), "--render")
    assert project["read"], project["error"]
    assert project["crs"] == "EPSG:9215" and project["extent_crs"] == "EPSG:9215"
    assert project["groups"][:3] == ["Điểm / Points", "Đường / Lines", "Vùng / Areas"]
    layers = project["layers"]
    assert all(layer["valid"] for layer in layers), [layer["id"] for layer in layers if not layer["valid"]]
    layers = [layer for layer in layers if not layer["id"].startswith("raster_")]  # rasters: tests/tiles
    assert {collection_of(layer["id"]) for layer in layers} == public_ids(catalog)
    counts: dict[str, int] = {}
    for layer in layers:
        counts[collection_of(layer["id"])] = counts.get(collection_of(layer["id"]), 0) + layer["count"]
        if layer["geometry"] != "No geometry":
            assert (layer["painted"] > 0) == (layer["count"] > 0), layer  # drawn, mixed layers included
    assert counts == {lid: db_count(engine, catalog[lid]) for lid in public_ids(catalog)}


def test_border_key_project_opens_with_basic_auth_in_qgis(qgis, live_server, keys, catalog, engine, tmp_path):
    path = tmp_path / "langson-border.qgs"
    path.write_bytes(download(live_server, {"Authorization": f"Bearer {keys['border']}"}).content)
    project = run_qgis(tmp_path, "project", str(path), "--authcfg", DEFAULT_AUTHCFG, "--render",
                       "--only", "border_belt,forest_plots", key=keys["border"])
    assert project["read"], project["error"]
    layers = {layer["id"]: layer for layer in project["layers"]}
    assert all(layer["valid"] for layer in layers.values())
    belt = layers["border_belt_polygon"]
    assert belt["count"] == db_count(engine, catalog["border_belt"]) and belt["painted"] > 0
    assert layers["forest_plots_tiles"]["painted"] > 0  # vector tiles of an internal layer, with the key
    assert not layers["forest_plots_polygon"]["checked"]  # the large OAPIF layer starts switched off
