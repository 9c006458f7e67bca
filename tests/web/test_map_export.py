"""``sdi map export``: a static folium map of chosen layers."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from sdi.cli import app


def test_map_export_writes_a_folium_map_of_the_chosen_layers(settings, seeded, tmp_path, monkeypatch):
    monkeypatch.setenv("SDI_DATABASE_URL", settings.database_url)
    out = tmp_path / "map.html"
    result = CliRunner().invoke(app, ["map", "export", "admin_units", "pilot_sites", "border_gates", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "L.map(" in html and html.count("L.geoJson(") == 3
    assert "p2026-12-huu-nghi" in html and "huu_nghi" in html  # pilot site and border gate keys
    assert "Layer control" in html or "L.control.layers" in html
    assert re.search(r"<title>Hạ tầng dữ liệu không gian tỉnh Lạng Sơn", html)
    assert "tile.openstreetmap.org" not in html  # no outside base map unless --osm
    # refuses to overwrite, and a table without geometry
    again = CliRunner().invoke(app, ["map", "export", "admin_units", "--out", str(out)])
    assert again.exit_code != 0
    nogeom = CliRunner().invoke(app, ["map", "export", "problems", "--out", str(tmp_path / "p.html")])
    assert nogeom.exit_code != 0
