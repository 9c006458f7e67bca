"""The web map in a real browser (Debian's chromium via Playwright) against a real server.

Each view is saved as a screenshot under docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import PHONE, colours

pytestmark = pytest.mark.usefixtures("seeded")


def _no_trouble(page) -> None:
    assert page.errors == [], page.errors
    assert page.failed == [], page.failed
    assert page.outside_requests() == [], page.outside_requests()  # no CDN, no outside tiles


def _visible_layer_ids(page) -> set[str]:
    return set(page.page.eval_on_selector_all("#layer-list .layer", "els => els.map(e => e.dataset.layer)"))


def test_default_view_draws_the_province_from_the_servers_own_tiles(open_page, live_server):
    page = open_page().open()
    page.wait_idle()
    png = page.screenshot("webmap-layers.png")
    # the map area (right of the panel) is drawn: many colours, no single colour covering it
    drawn = colours(png, (400, 80, 1260, 780))
    assert drawn["distinct"] > 50 and drawn["dominant_share"] < 0.8, drawn
    assert page.page.locator("html").get_attribute("lang") == "vi"
    assert page.page.locator("#tabs button").first.inner_text() == "Lớp bản đồ"
    # vector tiles from /ogc for the base layers, bundle from the app
    tiles = [u for u in page.requests if "/ogc/collections/admin_units/tiles/WebMercatorQuad/" in u]
    assert tiles and any("/webmap/static/app.js" in u for u in page.requests)
    assert not any("tile.openstreetmap.org" in u for u in page.requests)  # outside base map off by default
    _no_trouble(page)


def test_layers_toggle_and_opacity(open_page):
    page = open_page().open()
    page.wait_idle()
    before = page.screenshot()
    box = page.page.locator(".layer[data-layer='admin_units'] input.vis")
    box.uncheck()
    page.wait_idle()
    vis = page.page.evaluate("window.sdiMap.map.getLayoutProperty('admin_units-fill', 'visibility')")
    assert vis == "none"
    assert page.screenshot() != before
    box.check()
    page.page.locator(".layer[data-layer='pilot_sites'] input.op").fill("0.3")
    opacity = page.page.evaluate("window.sdiMap.map.getPaintProperty('pilot_sites-circle', 'circle-opacity')")
    assert opacity == pytest.approx(0.3)
    # a hidden small layer is fetched only when switched on
    assert not any("/webmap/features/poi_osm" in u for u in page.requests)
    page.page.locator(".layer[data-layer='poi_osm'] input.vis").check()
    page.page.wait_for_function("() => window.sdiMap.map.querySourceFeatures('src-poi_osm').length > 0")
    _no_trouble(page)


def test_a_pilot_site_popup_shows_its_problem(open_page):
    page = open_page().open()
    page.page.wait_for_selector("body[data-planner='1']")
    page.page.click("#tabs button[data-view='planner']")
    items = page.page.locator("#problem-list li")
    assert items.count() == 30
    page.page.locator("#problem-list li[data-code='2026-12']").click()
    detail = page.page.locator("#problem-detail")
    detail.locator(".sites li").first.wait_for()
    text = detail.inner_text()
    assert "Đơn vị chủ trì" in text and "Sản phẩm" in text and "Mốc thời gian" in text
    assert "Hữu Nghị" in text
    # the problem's sites come from the OGC API with a CQL2 filter
    assert any("filter=problem_code%3D'2026-12'" in u or "filter=problem_code%3D%272026-12%27" in u
               for u in page.requests), [u for u in page.requests if "pilot_sites/items" in u]
    page.wait_idle()
    page.screenshot("webmap-planner.png")
    # click the highlighted site on the map itself
    xy = page.page.evaluate("""() => {
        const f = window.sdiMap.state.selectedSites.find(f => f.geometry.type === 'Point');
        const p = window.sdiMap.map.project(f.geometry.coordinates); return [p.x, p.y]; }""")
    canvas = page.page.locator("#map canvas").bounding_box()
    page.page.mouse.click(canvas["x"] + xy[0], canvas["y"] + xy[1])
    popup = page.page.locator(".maplibregl-popup-content")
    popup.wait_for()
    assert re.search(r"Bài toán 2026-12", popup.inner_text())
    title = page.page.evaluate("window.sdiMap.state.problemsByCode['2026-12'].title_vi")
    assert title[:40] in popup.inner_text()
    page.screenshot("webmap-popup.png")
    _no_trouble(page)


def test_filters_and_place_search_with_and_without_diacritics(open_page, live_server):
    for q in ("Huu Nghi", "Hữu Nghị", "huu nghi"):
        found = httpx.get(f"{live_server.url}/webmap/search", params={"q": q}, timeout=30).json()["results"]
        assert found and "Hữu Nghị" in found[0]["name"], (q, found[:2])
    page = open_page().open()
    page.page.wait_for_selector("body[data-planner='1']")
    page.page.click("#tabs button[data-view='planner']")
    page.page.fill("#place-search", "Huu Nghi")
    first = page.page.locator("#search-results li").first
    first.wait_for()
    assert "Hữu Nghị" in first.inner_text()
    first.click()
    page.page.locator(".maplibregl-marker").wait_for()
    # status filter: only problems with a completed pilot site, fewer than all
    page.page.select_option("#status-filter", "active")
    active = page.page.locator("#problem-list li").count()
    assert 0 < active < 30
    agencies = page.page.eval_on_selector_all("#agency-filter option", "os => os.map(o => o.value)")
    page.page.select_option("#status-filter", "")
    page.page.select_option("#agency-filter", agencies[1])
    assert 0 < page.page.locator("#problem-list li").count() < 30
    _no_trouble(page)


def test_language_toggle_switches_the_whole_ui(open_page):
    page = open_page().open()
    page.page.wait_for_selector("body[data-planner='1']")
    page.page.click("#lang-btn")
    assert page.page.locator("html").get_attribute("lang") == "en"
    assert page.page.locator("#tabs button[data-view='planner']").inner_text() == "Big problems"
    assert "Administrative units" in page.page.locator("#layer-list").inner_text()
    page.page.click("#tabs button[data-view='planner']")
    assert "Build an intelligent" in page.page.locator("#problem-list").inner_text()
    page.screenshot("webmap-english.png")
    page.page.click("#lang-btn")
    assert page.page.locator("#tabs button[data-view='planner']").inner_text() == "Bài toán lớn"
    _no_trouble(page)


def test_restricted_layers_only_with_a_key_that_allows_them(open_page, keys):
    anonymous = open_page().open()
    seen = _visible_layer_ids(anonymous)
    assert "admin_units" in seen and "border_belt" not in seen and "forest_plots" not in seen
    assert "Vành đai biên giới" not in anonymous.page.content()
    # signing in through the dialog: the key goes in sessionStorage, the page reloads with it
    anonymous.page.click("#login-btn")
    anonymous.page.fill("#key-input", "sdi_deadbeef_" + "x" * 43)
    anonymous.page.click("#login-ok")
    anonymous.page.locator("#login-error").wait_for()
    anonymous.page.fill("#key-input", keys["border"])
    anonymous.page.click("#login-ok")
    anonymous.page.wait_for_selector(".layer[data-layer='border_belt']", timeout=30_000)
    anonymous.page.wait_for_selector("body[data-ready='1']")
    anonymous.wait_idle()
    seen = _visible_layer_ids(anonymous)
    assert {"border_belt", "forest_plots"} <= seen
    assert anonymous.page.locator("#login-btn").inner_text() == "Đăng xuất"
    # its tiles were asked for with the key (transformRequest) and served
    assert any("/ogc/collections/border_belt/tiles/" in u for u in anonymous.requests)
    anonymous.screenshot("webmap-border-key.png")
    ranger = open_page(key=keys["ranger"]).open()
    seen = _visible_layer_ids(ranger)
    assert "forest_plots" in seen and "border_belt" not in seen  # internal yes, restricted no
    for page in (anonymous, ranger):
        assert [e for e in page.errors if "401" not in e] == []
        assert [f for f in page.failed if not f.startswith("401 ")] == []
        assert page.outside_requests() == []


def test_rangers_compare_two_flights_with_a_swipe_and_side_by_side(open_page, keys, flights):
    page = open_page(key=keys["ranger"]).open()
    page.page.click("#tabs button[data-view='ranger']")
    items = page.page.locator("#timeline .tl-item")
    items.first.wait_for()
    # the imagery of the area in view: zoomed on the flights, both are still there
    page.page.evaluate("window.sdiMap.map.jumpTo({center: [106.75, 21.85], zoom: 15})")
    page.page.click("#ranger-area")
    page.page.wait_for_function("() => performance.getEntriesByType('resource')"
                                ".some(e => e.name.includes('/stac/search') && e.name.includes('bbox='))")
    older, newer = (page.page.locator(f"#timeline [data-item='{f.item_id}']") for f in flights[:2])
    older.wait_for()
    assert older.inner_text() == "2026-03-15" and newer.inner_text() == "2026-05-20"
    newer.click()
    older.click()
    # A is the older, B the newer, whatever the order of the clicks
    assert page.page.locator("#date-a").inner_text() == "A · 2026-03-15"
    assert page.page.locator("#date-b").inner_text() == "B · 2026-05-20"
    assert page.page.locator("#swipe").is_visible() and page.page.locator("#map-b").is_visible()
    page.wait_idle()
    raster_tiles = [u for u in page.requests if "/rasters/" in u and "/tiles/WebMercatorQuad/" in u]
    assert {flights[0].item_id, flights[1].item_id} <= {u.split("/rasters/")[1].split("/")[0] for u in raster_tiles}
    page.screenshot("webmap-swipe.png")
    # the two maps show different pixels on both sides of the swipe
    box = page.page.locator("#maps").bounding_box()
    png = page.screenshot()
    mid = int(box["x"] + box["width"] / 2)
    top, bottom = int(box["y"] + 100), int(box["y"] + box["height"] - 100)
    left, right = colours(png, (mid - 200, top, mid - 20, bottom)), colours(png, (mid + 20, top, mid + 200, bottom))
    assert left["distinct"] > 20 and right["distinct"] > 20, (left, right)
    # the swipe handle moves the boundary
    handle = page.page.locator("#swipe .handle").bounding_box()
    page.page.mouse.move(handle["x"] + 16, handle["y"] + 16)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + box["width"] * 0.3, handle["y"] + 16)
    page.page.mouse.up()
    clip = page.page.evaluate("document.getElementById('map-b').style.clipPath")
    assert clip.startswith("inset(0px 0px 0px") and abs(float(clip.split()[-1][:-3]) - box["width"] * 0.3) < 5
    page.page.click(".compare-modes button[data-mode='side']")
    page.wait_idle()
    assert page.page.evaluate("document.body.dataset.compare") == "side"
    a, b = page.page.locator("#map").bounding_box(), page.page.locator("#map-b").bounding_box()
    assert b["x"] >= a["x"] + a["width"] - 2  # next to each other
    centre_a = page.page.evaluate("window.sdiMap.map.getCenter().toArray()")
    centre_b = page.page.evaluate("window.sdiMap.mapB.getCenter().toArray()")
    assert centre_a == pytest.approx(centre_b, abs=1e-6)  # synced
    page.screenshot("webmap-side-by-side.png")
    # no change_events layer yet: said so, nothing breaks
    events = page.page.locator("#events").inner_text()
    assert "change_events" in events or "Sự kiện thay đổi" in events
    _no_trouble(page)


def test_hillshade_from_the_dem_when_there_is_one(open_page, flights):
    page = open_page().open()
    page.page.wait_for_selector(".layer[data-layer='hillshade']", timeout=30_000)
    dem = page.page.evaluate("window.sdiMap.state.hillshade")  # the newest DEM (ours, unless another is newer)
    assert dem
    page.page.evaluate("window.sdiMap.map.fitBounds(window.sdiMap.map.getSource('dem').bounds, {duration: 0})")
    page.wait_idle()
    assert any(f"/rasters/{dem}/tiles/" in u and "algorithm=hillshade" in u for u in page.requests)
    _no_trouble(page)


def test_phone_screen(open_page):
    page = open_page(viewport=PHONE).open()
    page.wait_idle()
    assert not page.page.locator("#panel").is_visible()  # the map first; the panel on demand
    png = page.screenshot("webmap-phone.png")
    assert colours(png, (0, 120, 390, 800))["distinct"] > 30
    page.page.click("#tabs button[data-view='planner']")
    assert page.page.locator("#panel").is_visible()
    panel, map_box = page.page.locator("#panel").bounding_box(), page.page.locator("#map").bounding_box()
    assert panel["width"] <= 390 and map_box["height"] > 250  # map and panel share the screen
    page.page.locator("#problem-list li").first.wait_for()
    page.screenshot("webmap-phone-planner.png")
    _no_trouble(page)


def test_small_layer_endpoint_and_catalogue_page(live_server, keys):
    base = live_server.url
    r = httpx.get(f"{base}/webmap/features/pilot_sites", timeout=30)
    assert r.status_code == 200 and len(r.json()["features"]) == 28
    assert {"problem_code", "status", "name_vi"} <= set(r.json()["features"][0]["properties"])
    # restricted layers never go around the OGC door (which logs their reads); internal only with a key
    assert httpx.get(f"{base}/webmap/features/border_belt", headers={"X-API-Key": keys["border"]},
                     timeout=30).status_code == 404
    assert httpx.get(f"{base}/webmap/features/forest_plots", timeout=30).status_code == 404
    assert httpx.get(f"{base}/webmap/static/..%2Fpackage.json", timeout=30).status_code == 404
    # the bundle: compressed once, cached for a year (its URL changes with it)
    from api.webmap import DIST

    js = httpx.get(f"{base}/webmap/static/app.js", headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert js.headers["content-encoding"] == "gzip" and "immutable" in js.headers["cache-control"]
    assert js.content == (DIST / "app.js").read_bytes() and int(js.headers["content-length"]) < 400_000
    page = httpx.get(f"{base}/catalogue", timeout=30)
    assert page.status_code == 200 and "Đơn vị hành chính" in page.text


def test_rangers_open_and_mark_a_change_event(open_page, keys, flights, engine, catalog):
    if "change_events" not in catalog:
        pytest.skip("no change_events layer yet (it comes with change detection)")
    from sqlalchemy import text

    event_id = "web-test-event-1"
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO change_events (event_id, change_type, before_item, after_item, before_date, after_date,"
            " magnitude, confidence, vegetation_index, status, commune_code, geom) VALUES (:id, 'loss', :a, :b,"
            " '2026-03-15T02:30:00Z', '2026-05-20T03:00:00Z', 0.4, 0.85, 'vari', 'new',"
            " (SELECT code FROM admin_units WHERE level = 'commune' AND ST_Contains(geom,"
            "  ST_SetSRID(ST_MakePoint(106.75, 21.85), 4326)) LIMIT 1),"
            " ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(106.75, 21.85), 4326)::geography, 12)::geometry))"
        ).bindparams(id=event_id, a=flights[0].item_id, b=flights[1].item_id))
        commune = conn.execute(text("SELECT a.name FROM change_events e JOIN admin_units a ON a.code = e.commune_code"
                                    " WHERE e.event_id = :id").bindparams(id=event_id)).scalar_one()
    try:
        page = open_page(key=keys["ranger"]).open()
        page.page.click("#tabs button[data-view='ranger']")
        page.page.locator(f"#timeline [data-item='{flights[0].item_id}']").click()
        page.page.locator(f"#timeline [data-item='{flights[1].item_id}']").click()
        item = page.page.locator(f"#events li[data-ev='{event_id}']")
        item.wait_for()
        assert "Mất rừng" in item.inner_text() and "Mới" in item.inner_text()
        item.click()
        detail = page.page.locator("#event-detail")
        assert "0.85" in detail.inner_text()
        link = detail.locator("a[data-report].button")
        assert link.inner_text() == "Mở báo cáo"
        assert "/change/reports/" in link.get_attribute("href") and "commune=" in link.get_attribute("href")
        page.wait_idle()
        page.screenshot("webmap-change-event.png")
        # the report opens in a new tab, fetched with the key the user signed in with
        with page.context.expect_page() as opened:
            link.click()
        report = opened.value
        report.wait_for_function("document.body && document.body.innerText.includes('Danh sách')", timeout=60_000)
        assert report.url.startswith("blob:")
        body = report.inner_text("body")
        assert event_id in body and commune in body and "Báo cáo biến động rừng" in body and "mới / new" in body
        report.close()
        detail.locator("button[data-status='verified']").click()
        page.page.wait_for_function("document.querySelector('#event-detail .msg').textContent.length > 0")
        assert detail.locator(".msg").inner_text() == "Đã lưu", detail.locator(".msg").inner_text()
        with engine.connect() as conn:
            status = conn.execute(text("SELECT status FROM change_events WHERE event_id = :id")
                                  .bindparams(id=event_id)).scalar_one()
        assert status == "verified"
        assert "Đã xác nhận" in page.page.locator(f"#events li[data-ev='{event_id}']").inner_text()
        with page.context.expect_page() as opened:  # the report shows the new status at once
            link.click()
        opened.value.wait_for_function("document.body && document.body.innerText.includes('Danh sách')")
        assert "đã xác minh / verified" in opened.value.inner_text("body")
        _no_trouble(page)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM change_events WHERE event_id = :id").bindparams(id=event_id))


def _label_names(page, layer: str) -> list[str]:
    return page.page.evaluate(
        f"window.sdiMap.map.queryRenderedFeatures({{layers: ['{layer}']}})"
        ".map(f => f.properties.name || f.properties.name_vi)")


def test_labels_in_vietnamese_from_the_servers_own_glyphs(open_page, live_server, engine):
    from sqlalchemy import text

    page = open_page()
    warnings: list[str] = []
    page.page.on("console", lambda m: m.type == "warning" and warnings.append(m.text))
    page.open()
    page.wait_idle()
    style = page.page.evaluate("window.sdiMap.map.getStyle()")
    assert style["glyphs"] == f"{live_server.url}/webmap/glyphs/{{fontstack}}/{{range}}.pbf"
    symbols = {layer["id"] for layer in style["layers"] if layer["type"] == "symbol"}
    assert {"admin_units-label", "pilot_sites-label", "border_gates-label"} <= symbols
    # the province view carries no commune names (65 names at z8 are clutter, and placing them cost
    # the first render 0.7 s); one zoom step in they appear, with their diacritics (not all:
    # collisions hide some)
    assert page.page.evaluate("window.sdiMap.map.getZoom()") < 9
    assert _label_names(page, "admin_units-label") == []
    page.page.evaluate("window.sdiMap.map.zoomTo(9.3, {duration: 0})")
    page.wait_idle()
    communes = _label_names(page, "admin_units-label")
    with engine.connect() as conn:
        known = set(conn.execute(text("SELECT name FROM admin_units WHERE level = 'commune'")).scalars())
    assert len(communes) >= 10 and set(communes) <= known, communes
    assert any(ch in "".join(communes) for ch in "ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹĐđƠơƯư")
    glyphs = [u for u in page.requests if "/webmap/glyphs/" in u]
    assert any(u.endswith("/0-255.pbf") for u in glyphs) and any(u.endswith("/7680-7935.pbf") for u in glyphs)
    assert not [w for w in warnings if "glyph" in w.lower()], warnings  # no range drawn locally instead
    # closer in: the border gates by name, around Hữu Nghị
    with engine.connect() as conn:
        lon, lat = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM border_gates "
                                     "WHERE name_vi LIKE '%Hữu Nghị' LIMIT 1")).one()
    page.page.evaluate(f"window.sdiMap.map.jumpTo({{center: [{lon}, {lat}], zoom: 12}})")
    page.wait_idle()
    page.screenshot("webmap-labels.png")
    gates = _label_names(page, "border_gates-label")
    assert "Cửa khẩu quốc tế Hữu Nghị" in gates, gates
    _no_trouble(page)


def test_glyph_ranges_cover_every_label_and_are_served(live_server, engine):
    from sqlalchemy import text

    from api.webmap import DIST

    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM admin_units UNION ALL SELECT name_vi FROM pilot_sites "
                                  "UNION ALL SELECT name_vi FROM border_gates")).scalars().all()
    ranges = {ord(ch) // 256 * 256 for name in names for ch in name}
    for start in sorted(ranges):
        url = f"{live_server.url}/webmap/glyphs/DejaVu%20Sans%20Book/{start}-{start + 255}.pbf"
        r = httpx.get(url, headers={"Accept-Encoding": "gzip"}, timeout=30)
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf", url
        assert r.content == (DIST / "glyphs" / "dejavu-sans-book" / f"{start}-{start + 255}.pbf").read_bytes()
    assert (DIST / "glyphs" / "LICENSE-DejaVu.txt").is_file()
    for bad in ("Arial%20Regular/0-255.pbf", "DejaVu%20Sans%20Book/512-767.pbf", "DejaVu%20Sans%20Book/x.pbf"):
        r = httpx.get(f"{live_server.url}/webmap/glyphs/{bad}", timeout=30)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    labels = httpx.get(f"{live_server.url}/webmap/labels/admin_units", timeout=30).json()["features"]
    with engine.connect() as conn:
        units = conn.execute(text("SELECT count(*) FROM admin_units WHERE name IS NOT NULL")).scalar_one()
    assert {f["geometry"]["type"] for f in labels} == {"Point"} and len(labels) == units
    assert {"name", "code", "level"} <= set(labels[0]["properties"])
    assert httpx.get(f"{live_server.url}/webmap/labels/forest_plots", timeout=30).status_code == 404
