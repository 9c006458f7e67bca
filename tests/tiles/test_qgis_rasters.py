"""Raster items in the QGIS project (``/qgis/project.qgs``) and in real QGIS: the project's XYZ
layers, the WMTS capabilities and the COG over ``/vsicurl/``, drawn headless by QGIS 3.22.

The QGIS runs are skipped when ``/usr/bin/python3`` cannot import ``qgis.core`` (``make test``
installs python3-qgis); the checks of the project's XML run everywhere.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from api.qgis import DEFAULT_AUTHCFG, RASTERS
from tests.api.test_qgis import SYSTEM_PYTHON, qgis_env

HELPER = Path(__file__).with_name("qgis_rasters.py")


@pytest.fixture(scope="module")
def qgis(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("qgis-check")
    try:
        proc = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], env=qgis_env(home), capture_output=True,
                              text=True, timeout=60)
    except FileNotFoundError:
        pytest.skip(f"{SYSTEM_PYTHON} not found: QGIS tests need the system Python with python3-qgis")
    if proc.returncode != 0:
        pytest.skip(f"{SYSTEM_PYTHON} cannot import qgis.core: {proc.stderr.strip()[-300:]}")


def run(home: Path, *args: str, key: str | None = None) -> dict:
    out = home / "result.json"
    env = qgis_env(home, **({"SDI_QGIS_KEY": key} if key else {}))
    proc = subprocess.run([SYSTEM_PYTHON, str(HELPER), *args, "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, f"QGIS helper failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


def project(server, headers: dict | None = None) -> ET.Element:
    r = httpx.get(f"{server.url}/qgis/project.qgs", headers=headers or {}, timeout=60)
    assert r.status_code == 200
    return ET.fromstring(r.content)


def raster_layers(root: ET.Element) -> dict[str, ET.Element]:
    return {m.findtext("id"): m for m in root.find("projectlayers") if m.get("type") == "raster"}


def bbox(raster, margin: float = 0.0002) -> str:
    (w, n), (e, s) = raster.lonlat(0, 0), raster.lonlat(1023, 1023)
    return f"{w - margin},{s - margin},{e + margin},{n + margin}"


def test_project_lists_the_rasters_each_caller_may_see(tiles_server, rasters, auth, keys):
    ids = {name: r.id for name, r in rasters.items()}
    anonymous = raster_layers(project(tiles_server))
    assert {f"raster_{ids['rgb_old']}", f"raster_{ids['rgb_old']}_vari", f"raster_{ids['rgb_new']}"} <= set(anonymous)
    assert not any(ids[n] in lid for lid in anonymous for n in ("ms", "secret", "pending"))
    ranger = raster_layers(project(tiles_server, auth["ranger"]))
    assert f"raster_{ids['ms']}_ndvi" in ranger and not any(ids["secret"] in lid for lid in ranger)
    border = project(tiles_server, auth["border"])
    layers = raster_layers(border)
    assert f"raster_{ids['secret']}" in layers
    for lid, layer in layers.items():
        source = layer.findtext("datasource")
        assert source.startswith(f"type=xyz&url={tiles_server.url}/rasters/") and source.endswith(
            f"&authcfg={DEFAULT_AUTHCFG}"), lid
        assert layer.findtext("provider") == "wms"
    assert keys["border"] not in ET.tostring(border, encoding="unicode")
    group = [g for g in border.find("layer-tree-group") if g.get("name") == RASTERS]
    assert group and list(border.find("layer-tree-group"))[-1] is group[0]  # rasters at the bottom
    ndvi = layers[f"raster_{ids['ms']}_ndvi"].findtext("datasource")
    assert "algorithm%3Dndvi" in ndvi and "WMTSCapabilities.xml" in layers[f"raster_{ids['ms']}_ndvi"].findtext(
        "abstract")


def test_qgis_draws_the_projects_raster_layers(qgis, tiles_server, rasters, tmp_path):
    path = tmp_path / "rasters.qgs"
    path.write_bytes(httpx.get(f"{tiles_server.url}/qgis/project.qgs", timeout=60).content)
    old = rasters["rgb_old"]
    result = run(tmp_path, "project", str(path), bbox(old))
    assert result["read"] and RASTERS in result["groups"]
    layer = result[f"raster_{old.id}"]
    assert layer["valid"] and layer["provider"] == "wms" and layer["checked"], layer
    assert layer["painted"] > 2000, layer  # the disc of the orthomosaic(s), drawn from the tiles
    assert not result[f"raster_{old.id}_vari"]["checked"]
    assert result[f"raster_{old.id}_vari"]["painted"] > 2000


def test_qgis_reads_an_internal_raster_with_the_key(qgis, tiles_server, rasters, keys, tmp_path):
    path = tmp_path / "rasters-ranger.qgs"
    path.write_bytes(httpx.get(f"{tiles_server.url}/qgis/project.qgs", headers={"X-API-Key": keys["ranger"]},
                               timeout=60).content)
    ms = rasters["ms"]
    result = run(tmp_path, "project", str(path), bbox(ms), "--authcfg", DEFAULT_AUTHCFG, key=keys["ranger"])
    ndvi = result[f"raster_{ms.id}_ndvi"]
    assert ndvi["valid"] and ndvi["painted"] > 2000, ndvi
    red, green, _ = ndvi["mean_rgb"]
    assert green > red  # NDVI 0.4–0.7 over most of the flight: the green end of RdYlGn


def test_qgis_opens_the_wmts_capabilities(qgis, tiles_server, rasters, tmp_path):
    old = rasters["rgb_old"]
    caps = f"{tiles_server.url}/rasters/{old.id}/WMTSCapabilities.xml"
    name = f"{old.id}_WebMercatorQuad_default"
    result = run(tmp_path, "wmts", caps, name, bbox(old))[name]
    assert result["valid"], result
    assert result["painted"] > 2000, result
    red, green, _ = result["mean_rgb"]
    assert 60 < green < 200


def test_qgis_opens_the_cog_over_vsicurl(qgis, tiles_server, rasters, tmp_path):
    old = rasters["rgb_old"]
    result = run(tmp_path, "gdal", f"{tiles_server.url}/rasters/{old.id}/cog.tif", bbox(old))["cog"]
    # 3 bands, and QGIS 3.22 shows the internal mask as a 4th (alpha) band
    assert result["valid"] and result["crs"] == "EPSG:9215" and result["bands"] in (3, 4), result
    assert result["painted"] > 2000, result
