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
    assert not re.search(r'(src|href)="https?://[^"]*\.(js|css)"', html)  # Leaflet inside, no CDN
    # refuses to overwrite, and a table without geometry
    again = CliRunner().invoke(app, ["map", "export", "admin_units", "--out", str(out)])
    assert again.exit_code != 0
    nogeom = CliRunner().invoke(app, ["map", "export", "problems", "--out", str(tmp_path / "p.html")])
    assert nogeom.exit_code != 0


def test_the_exported_map_opens_in_a_browser_without_any_outside_request(settings, seeded, tmp_path, monkeypatch,
                                                                          browser):
    monkeypatch.setenv("SDI_DATABASE_URL", settings.database_url)
    out = tmp_path / "map.html"
    result = CliRunner().invoke(app, ["map", "export", "pilot_sites", "border_gates", "--out", str(out)])
    assert result.exit_code == 0, result.output
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    errors, requests = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    page.wait_for_selector(".leaflet-overlay-pane canvas")  # prefer_canvas: features drawn on a canvas
    drawn = page.evaluate("Object.values(window).filter(v => v instanceof L.GeoJSON)"
                          ".map(g => g.getLayers().length)")
    from sqlalchemy import create_engine, text

    with create_engine(settings.database_url).connect() as conn:  # other tests may have added features
        expected = sorted(conn.execute(text("SELECT (SELECT count(*) FROM border_gates), "
                                            "(SELECT count(*) FROM pilot_sites)")).one())
    assert sorted(drawn) == expected  # every border gate and pilot site is drawn
    assert "Địa điểm thí điểm" in page.locator(".leaflet-control-layers").inner_text()
    page.locator(".leaflet-control-layers-overlays input").first.uncheck()
    assert errors == [] and [u for u in requests if not u.startswith("file:")] == []
    context.close()
