"""The notebooks (notebooks/*.ipynb) run as a user runs them: nbclient on the venv's Python kernel (ipykernel),
against a real ``sdi serve`` on the test database, with the data each one needs prepared here; asserted on their
outputs. The committed notebooks carry no outputs and import only public names of the project."""

from __future__ import annotations

import ast
import datetime as dt
import html
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import rasterio
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from rasterio.windows import Window
from sqlalchemy import text

from change.synthetic import synthetic_pair
from rasters.store import open_store
from tests.uav_ingest import rasters
from uav_ingest.ingest import ingest_file

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PROJECT = ("sdi", "layers", "rasters", "uav_ingest", "change", "ops", "tiles", "api")
CELL_TIMEOUT = 120  # seconds per cell: a stuck cell fails the test instead of hanging the suite
KERNEL = "sdi-venv"
UTC7 = dt.timezone(dt.timedelta(hours=7))


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A kernel spec of this interpreter (the venv's Python), apart from any kernel installed for the user."""
    folder = tmp_path_factory.mktemp("kernels")
    spec = Path(write_kernel_spec(folder / KERNEL, overrides={"display_name": "Lạng Sơn SDI (.venv)"}))
    assert json.loads((spec / "kernel.json").read_text())["argv"][0] == sys.executable
    return KernelSpecManager(kernel_dirs=[str(folder)])


def run(name: str, kernels: KernelSpecManager, env: dict[str, str]) -> tuple[nbformat.NotebookNode, float]:
    """Execute a notebook on the venv's kernel with ``env`` added to the kernel's environment."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    km = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=kernels)
    started = time.monotonic()
    NotebookClient(nb, km=km, kernel_name=KERNEL, timeout=CELL_TIMEOUT).execute(
        env={**os.environ, **env}, cwd=str(NOTEBOOKS))
    return nb, time.monotonic() - started


def outputs(nb: nbformat.NotebookNode, cell_id: str) -> list:
    (cell,) = [c for c in nb.cells if c.id == cell_id]
    assert cell.cell_type == "code" and cell.execution_count is not None
    assert not [o for o in cell.outputs if o.output_type == "error"]
    return cell.outputs


def printed(nb: nbformat.NotebookNode, cell_id: str) -> str:
    return "".join(o.text for o in outputs(nb, cell_id) if o.output_type == "stream" and o.name == "stdout")


def result(nb: nbformat.NotebookNode, cell_id: str) -> dict:
    (shown,) = [o for o in outputs(nb, cell_id) if o.output_type == "execute_result"]
    return shown.data


def table(nb: nbformat.NotebookNode, cell_id: str, **converters) -> pd.DataFrame:
    """The DataFrame a cell shows, read back from its HTML output."""
    (frame,) = pd.read_html(StringIO(result(nb, cell_id)["text/html"]), converters=converters)
    return frame.drop(columns=[c for c in frame.columns if str(c).startswith("Unnamed")])


# --- prepared data ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pair(engine, settings, seeded, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """Two Sentinel-2 acquisitions with known clearings (change.synthetic), ingested; removed afterwards."""
    s2 = synthetic_pair(tmp_path_factory.mktemp("notebook-pair"), 21, "s2", size=400, cloud=True)
    ids = tuple(ingest_file(path, collection_id="sentinel2_l2a", when=when, engine=engine, settings=settings).item_id
                for path, when in ((s2.before, dt.datetime(2026, 1, 12, 10, tzinfo=UTC7)),
                                   (s2.after, dt.datetime(2026, 3, 14, 10, tzinfo=UTC7))))
    yield ids
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM change_events WHERE before_item = :b AND after_item = :a"),
                     {"b": ids[0], "a": ids[1]})
    withdraw(engine, settings, *ids)


@pytest.fixture(scope="module")
def flights(engine, settings, seeded, tmp_path_factory) -> Iterator[tuple[str, str, float]]:
    """Two UAV flights over one place (change.synthetic, 5–10 cm), the newest of uav_rgb: the ranger's notebook
    takes them by default; removed afterwards."""
    uav = synthetic_pair(tmp_path_factory.mktemp("notebook-flights"), 23, "uav", size=600, cloud=False)
    ids = tuple(ingest_file(path, collection_id="uav_rgb", when=when, engine=engine, settings=settings).item_id
                for path, when in ((uav.before, dt.datetime(2026, 5, 10, 9, tzinfo=UTC7)),
                                   (uav.after, dt.datetime(2026, 5, 20, 9, tzinfo=UTC7))))
    yield (*ids, uav.mmu_ha)  # a small scene: its clearings are below the default minimum mapping unit
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM change_events WHERE before_item = :b AND after_item = :a"),
                     {"b": ids[0], "a": ids[1]})
    withdraw(engine, settings, *ids)


@pytest.fixture(scope="module")
def flight(engine, settings, seeded, tmp_path_factory) -> Iterator[str]:
    """A UAV flight in the internal collection uav_rgb (a key is needed to see it); removed afterwards."""
    path = rasters.uav_rgb(tmp_path_factory.mktemp("notebook-flight") / "flight.tif", width=700, height=500, seed=77)
    item = ingest_file(path, collection_id="uav_rgb", when=dt.datetime(2026, 2, 2, 9, tzinfo=UTC7), engine=engine,
                       settings=settings).item_id
    yield item
    withdraw(engine, settings, item)


def withdraw(engine, settings, *items: str) -> None:
    """Remove the test's items: rows and COGs (the session's store is shared with later tests)."""
    with engine.begin() as conn:
        hrefs = conn.execute(text("DELETE FROM raster_items WHERE id = ANY(:ids) RETURNING href"),
                             {"ids": list(items)}).scalars().all()
    assert len(hrefs) == len(items)
    store = open_store(settings)
    for href in hrefs:
        store.delete(href)


# --- the three notebooks -----------------------------------------------------------------------------------------

def test_planner_counts_pilot_sites_by_problem_and_maps_them(live_server, engine, kernels):
    nb, seconds = run("02_planner_pilot_sites.ipynb", kernels, {"SDI_URL": live_server.url})
    with engine.connect() as conn:
        expected = dict(conn.execute(text("SELECT problem_code, count(*) FROM pilot_sites GROUP BY 1")).all())
        codes = list(conn.execute(text("SELECT code FROM pilot_sites")).scalars())
        without = conn.execute(text("SELECT count(*) FROM problems WHERE code NOT IN "
                                    "(SELECT problem_code FROM pilot_sites)")).scalar_one()
    assert len(codes) > 10 and len(expected) > 3
    assert f"{len(codes)} địa điểm / pilot sites" in printed(nb, "p3")
    counts = table(nb, "p5", problem_code=str)
    assert dict(zip(counts.problem_code, counts.sites, strict=True)) == expected
    assert f"{len(codes)} địa điểm của / sites of {len(expected)} bài toán" in printed(nb, "p5")
    assert f"{without} bài toán chưa có địa điểm" in printed(nb, "p5")
    # the last cell's output is the folium map: every site in it, one overlay per problem, no tile layer
    assert nb.cells[-1].id == "p7"
    page = html.unescape(result(nb, "p7")["text/html"])
    assert "<iframe" in page and "L.map(" in page
    assert all(f'"code": "{code}"' in page for code in codes)
    assert all(f"\"{problem}: {n} " in page for problem, n in expected.items())  # the overlays, by name
    assert "L.tileLayer(" not in page
    assert seconds < 60


@pytest.mark.parametrize("chosen", ["given", "default"])
def test_ranger_runs_forest_change_and_sums_loss_per_commune(live_server, engine, keys, kernels, request, chosen):
    """``given``: a Sentinel-2 pair named by SDI_BEFORE / SDI_AFTER; ``default``: none named, the notebook takes the
    newest flight of uav_rgb and the latest earlier one over the same place (and a minimum mapping unit, SDI_MMU_HA,
    for the small scene)."""
    env = {"SDI_URL": live_server.url, "SDI_API_KEY": keys["ranger"]}
    if chosen == "given":
        (before, after), collection = request.getfixturevalue("pair"), "sentinel2_l2a"
        env.update(SDI_BEFORE=before, SDI_AFTER=after)
    else:
        (before, after, mmu_ha), collection = request.getfixturevalue("flights"), "uav_rgb"
        env.update(SDI_MMU_HA=str(mmu_ha))
    nb, seconds = run("03_ranger_forest_change.ipynb", kernels, env)
    listed = table(nb, "r3")
    assert list(listed["id"]) == [before, after] and set(listed["collection"]) == {collection}
    assert "status: successful" in printed(nb, "r5")
    summary = ast.literal_eval(result(nb, "r5")["text/plain"])
    with engine.connect() as conn:
        pair_filter = {"b": before, "a": after}
        written = conn.execute(text("SELECT count(*) FROM change_events WHERE before_item = :b AND after_item = :a"),
                               pair_filter).scalar_one()
        loss = conn.execute(text(
            "SELECT commune_code, count(*), sum(area_ha) FROM change_events WHERE before_item = :b "
            "AND after_item = :a AND change_type = 'loss' GROUP BY 1"), pair_filter).all()
    assert summary["written"] == summary["events"] == written > 0
    assert f"{written} biến động / events" in printed(nb, "r7")
    per_commune = table(nb, "r9", commune_code=str)
    assert len(per_commune) > 0 and per_commune.commune_code.notna().all()
    assert sorted(per_commune.commune_code) == sorted(c for c, _, _ in loss)
    for code, n, area in loss:
        row = per_commune[per_commune.commune_code == code].iloc[0]
        assert row.events == n and row.loss_ha == pytest.approx(area, abs=1e-4), code
        assert row.loss_vn2000_ha == pytest.approx(area, rel=1e-3), code  # the geometry agrees with the server
        assert isinstance(row.full_name, str) and row.full_name  # a commune's name, from admin_units
    assert per_commune.loss_ha.sum() == pytest.approx(summary["loss_ha"], abs=1e-3)
    assert seconds < 60


def test_stac_search_and_window_read_over_vsicurl(live_server, engine, settings, keys, kernels, flight):
    nb, seconds = run("04_stac_rasterio_window.ipynb", kernels, {
        "SDI_URL": live_server.url, "SDI_API_KEY": keys["planner"], "SDI_COLLECTION": "uav_rgb",
        "SDI_ITEM": flight, "SDI_WINDOW": "200x120"})
    assert "uav_rgb" in set(table(nb, "s3")["id"])  # internal: seen with the key
    assert list(table(nb, "s5")["id"]) == [flight]
    assert f"{live_server.url}/rasters/{flight}/cog.tif" in printed(nb, "s5")
    shown = printed(nb, "s7")
    assert "700×500 px, 3 kênh / bands (uint8)" in shown
    assert "200×120 → shape (3, 120, 200)" in shown
    # the statistics are those of the same window read from the store directly
    with engine.connect() as conn:
        href = conn.execute(text("SELECT href FROM raster_items WHERE id = :i"), {"i": flight}).scalar_one()
    with rasterio.open(open_store(settings).gdal_path(href)) as local:
        window = Window((local.width - 200) // 2, (local.height - 120) // 2, 200, 120)
        data = local.read(window=window, masked=True).astype("float64")
    stats = table(nb, "s9")
    assert len(stats) == 3
    for band, row in enumerate(stats.itertuples()):
        assert row.valid == data[band].count() > 0
        assert (row.min, row.max) == (data[band].min(), data[band].max())
        assert row.mean == pytest.approx(data[band].mean(), rel=1e-5)
        assert row.std == pytest.approx(data[band].std(), rel=1e-5)
    assert seconds < 60


# --- the committed files -------------------------------------------------------------------------------------

def committed() -> list[Path]:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    names = {p.name for p in paths}
    assert {"02_planner_pilot_sites.ipynb", "03_ranger_forest_change.ipynb", "04_stac_rasterio_window.ipynb"} <= names
    return paths


@pytest.mark.parametrize("path", committed(), ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert set(nb.metadata.get("language_info", {})) <= {"name"}  # no kernel details (Python version)
    for cell in nb.cells:
        assert "execution" not in cell.metadata, cell.get("id")
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: {cell.get('id')}: run " \
                                                                         "`make notebooks-clean`"


@pytest.mark.parametrize("path", committed(), ids=lambda p: p.name)
def test_notebooks_import_only_public_names_of_the_project(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT:
                assert not re.search(r"(^|\.)_", node.module), f"{path.name}: {node.module}"
                assert not [a.name for a in node.names if a.name.startswith("_")], f"{path.name}: {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in PROJECT:
                        assert not re.search(r"(^|\.)_", alias.name), f"{path.name}: {alias.name}"
