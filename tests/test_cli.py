"""The `sdi` command line, run as users run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyogrio
import pytest
from typer.testing import CliRunner

from sdi.cli import app

runner = CliRunner()


@pytest.fixture()
def env(settings, seeded):
    return {"SDI_DATABASE_URL": settings.database_url, "SDI_FOREST_SAMPLE_TARGET": str(settings.forest_sample_target)}


def test_layers_list_shows_every_layer_with_counts(env, catalog):
    result = runner.invoke(app, ["layers", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    listed = {layer["id"]: layer for layer in json.loads(result.stdout)}
    assert set(listed) == set(catalog)
    assert listed["admin_units"]["feature_count"] == 66
    table = runner.invoke(app, ["layers", "list"], env={**env, "COLUMNS": "250"})
    assert table.exit_code == 0 and "Đơn vị hành chính" in table.output


def test_validate_then_load_then_export(env, tmp_path, engine):
    from tests.layers.test_loader import plots, write

    path = write(plots("CLI", n=5), tmp_path / "cli.gpkg")
    report_file = tmp_path / "report.json"
    checked = runner.invoke(app, ["layers", "validate", "forest_plots", str(path), "--report", str(report_file)],
                            env=env)
    assert checked.exit_code == 0, checked.output
    assert json.loads(report_file.read_text())["committed"] is False
    loaded = runner.invoke(app, ["layers", "load", "forest_plots", str(path)], env=env)
    assert loaded.exit_code == 0, loaded.output
    out = tmp_path / "plots.gpkg"
    exported = runner.invoke(app, ["layers", "export", "forest_plots", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    frame = pyogrio.read_dataframe(out)
    assert {f"CLI-{i:03d}" for i in range(5)} <= set(frame.plot_code)
    assert frame.crs.to_epsg() == 4326 and "area_ha" in frame.columns
    geojson = tmp_path / "problems.geojson"
    assert runner.invoke(app, ["layers", "export", "problems", str(geojson)], env=env).exit_code == 0
    assert runner.invoke(app, ["layers", "export", "problems", str(geojson)], env=env).exit_code != 0  # exists


def test_bad_file_exits_2_with_a_clear_message(env, tmp_path):
    bad = tmp_path / "empty.geojson"
    bad.write_bytes(b"")
    result = subprocess.run([sys.executable, "-m", "sdi.cli", "layers", "load", "forest_plots", str(bad)],
                            env={**os.environ, **env}, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "Tệp rỗng / the file is empty" in result.stderr


def test_validation_failure_prints_the_report(env, tmp_path):
    from tests.layers.test_loader import _duplicate_keys

    result = subprocess.run([sys.executable, "-m", "sdi.cli", "layers", "validate", "forest_plots",
                             str(_duplicate_keys(tmp_path))], env={**os.environ, **env, "COLUMNS": "200"},
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "duplicate_key" in result.stderr and "nothing was written" in result.stderr


def test_unknown_layer(env, tmp_path):
    result = subprocess.run([sys.executable, "-m", "sdi.cli", "layers", "export", "khong_co", str(tmp_path / "x.gpkg")],
                            env={**os.environ, **env}, capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "no layer 'khong_co'" in result.stderr


def test_db_status_names_the_revision(env):
    result = runner.invoke(app, ["db", "status"], env=env)
    assert result.exit_code == 0, result.output
    from alembic.script import ScriptDirectory

    from sdi.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(env["SDI_DATABASE_URL"])).get_current_head()
    assert f"schema revision {head}" in " ".join(result.stdout.split())


def test_users_add_list_revoke(env, engine):
    from sdi.access import authenticate

    added = runner.invoke(app, ["users", "add", "le.thi.b@kiemlam", "--agency", "kiemlam"], env=env)
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[-1]
    assert key.startswith("sdi_")
    who = authenticate(engine, key)
    assert who is not None and who.agency == "kiemlam" and who.role == "agency"
    with engine.connect() as conn:
        from sqlalchemy import text

        stored = conn.execute(text("SELECT secret_sha256 FROM api_keys WHERE name = 'le.thi.b@kiemlam'")).scalar_one()
    assert key not in stored and len(stored) == 64  # only a digest is kept
    listed = runner.invoke(app, ["users", "list"], env={**env, "COLUMNS": "200"})
    assert "le.thi.b@kiemlam" in listed.output and key not in listed.output
    assert runner.invoke(app, ["users", "revoke", "le.thi.b@kiemlam"], env=env).exit_code == 0
    assert authenticate(engine, key) is None
    again = runner.invoke(app, ["users", "revoke", "le.thi.b@kiemlam"], env=env)
    assert again.exit_code != 0


@pytest.mark.parametrize("args", [
    ["users", "add", "x", "--agency", "khong_co"],          # unknown agency
    ["users", "add", "x", "--agency", "kiemlam", "--role", "root"],  # unknown role
])
def test_users_add_refuses_bad_input(env, engine, args):
    from sqlalchemy import text

    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one()
    result = runner.invoke(app, args, env=env)
    assert result.exit_code != 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == before
