"""Tải dữ liệu lên / Upload in the web map, in a real browser against a real server: an agency's
user publishes a GeoPackage (report, panel, features served, keywords and grants set), a refused
file shows the Vietnamese message and creates nothing, and there is no form without a key."""

from __future__ import annotations

import json
import os
import re

import geopandas as gpd
import httpx
import pytest
import shapely
from sqlalchemy import MetaData, Table, text

from tests.web.conftest import PHONE

pytestmark = pytest.mark.usefixtures("seeded")


@pytest.fixture()
def cleanup(engine):
    made: list[str] = []
    yield made
    with engine.begin() as conn:  # the test's layers go, so other tests see the catalogue they expect
        for layer_id in made:
            conn.execute(text("DELETE FROM layers WHERE id = :i"), {"i": layer_id})
            Table(layer_id, MetaData(), schema="published").drop(conn, checkfirst=True)


def _gpkg(path, lon: float = 106.72, lat: float = 21.83, n: int = 5):
    frame = gpd.GeoDataFrame({"Tên điểm": [f"Điểm khảo sát {i}" for i in range(n)], "Số hộ": list(range(n))},
                             geometry=[shapely.Point(lon + i / 200, lat + i / 300) for i in range(n)], crs=4326)
    frame.to_file(path, driver="GPKG")
    return path


def _exists(engine, layer_id: str) -> tuple[bool, bool]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT 1 FROM layers WHERE id = :i"), {"i": layer_id}).first()
        table = conn.execute(text("SELECT 1 FROM pg_tables WHERE schemaname = 'published' AND tablename = :i"),
                             {"i": layer_id}).first()
    return row is not None, table is not None


def _upload_tab(page):
    page.page.click("#tabs button[data-view='upload']")
    page.page.wait_for_selector("#up-agencies input[name=share]")


def test_no_upload_form_without_a_key(open_page):
    page = open_page().open()
    assert page.page.locator("#tabs button[data-view='upload']").count() == 0
    assert page.page.locator("#upload-form").count() == 0
    assert page.errors == []


def test_agencies_are_listed_for_anyone(live_server, keys):
    anonymous = httpx.get(f"{live_server.url}/agencies", timeout=30)
    assert anonymous.status_code == 200
    body = anonymous.json()
    by_code = {a["code"]: a for a in body["agencies"]}
    assert by_code["kiemlam"]["name_vi"].startswith("Chi cục Kiểm lâm") and by_code["skhcn"]["name_en"]
    assert body["your_agency"] is None
    signed = httpx.get(f"{live_server.url}/agencies", headers={"X-API-Key": keys["planner"]}, timeout=30)
    assert signed.json()["your_agency"] == "skhcn"


def test_an_agency_uploads_a_geopackage_and_it_is_published(open_page, live_server, keys, engine, tmp_path,
                                                            cleanup):
    suffix = os.urandom(3).hex()
    gpkg = _gpkg(tmp_path / f"Điểm khảo sát {suffix}.gpkg")
    layer_id = f"diem_khao_sat_{suffix}"
    cleanup.append(layer_id)
    page = open_page(key=keys["planner"]).open()
    posts: list[str] = []
    page.page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    _upload_tab(page)
    assert page.page.locator("#tabs button[data-view='upload']").inner_text() == "Tải dữ liệu lên"
    # the own agency owns the layer: it is not offered to share with
    assert page.page.locator("#up-agencies input[value='skhcn']").count() == 0
    page.page.set_input_files("#up-file", str(gpkg))
    assert page.page.input_value("#up-id") == layer_id  # folded from the file name
    # the Vietnamese title is checked before anything is sent
    page.page.click("#up-submit")
    assert page.page.inner_text("#up-error") == "Cần tên lớp bằng tiếng Việt."
    assert posts == []
    page.page.fill("#up-title-vi", "Điểm khảo sát hộ dân")
    page.page.fill("#up-title-en", "Household survey points")
    page.page.fill("textarea[name=abstract_vi]", "Điểm khảo sát thử nghiệm.")
    page.page.fill("input[name=keywords]", "khảo sát, hộ dân")
    page.page.fill("input[name=keywords_en]", "survey, households")
    page.page.select_option("#up-access", "public")
    page.page.check("#up-agencies input[value='kiemlam']")
    page.page.evaluate("""() => { window.__progress = []; const label = document.querySelector('#up-progress span');
      new MutationObserver(() => window.__progress.push(label.textContent))
        .observe(label, { childList: true, characterData: true, subtree: true }); }""")
    page.page.click("#up-submit")
    page.page.wait_for_selector("body[data-upload='published']", timeout=60_000)
    assert posts == [f"{live_server.url}/layers"]
    report = page.page.inner_text("#up-result")
    assert "Đã xuất bản lớp" in report and "Báo cáo kiểm tra dữ liệu" in report
    counts = dict(page.page.eval_on_selector_all(
        "#up-result table.counts tr", "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])"))
    assert counts == {"Đã đọc": "5", "Đã nạp": "5", "Đã sửa": "0", "Bị loại": "0"}
    progress = page.page.evaluate("window.__progress")
    assert any(" MB / " in p for p in progress) and progress[-1].startswith("Đã gửi xong"), progress
    # in the panel and on the map, zoomed to it
    row = page.page.locator(f"#layer-list .layer[data-layer='{layer_id}']")
    assert row.locator(".ltitle").inner_text() == "Điểm khảo sát hộ dân"
    assert re.fullmatch(rf"Cập nhật \d\d/\d\d/\d{{4}} \d\d:\d\d · bởi planner-{os.getpid()} \(skhcn, agency\)",
                        row.locator(".updated").inner_text()), row.locator(".updated").inner_text()
    assert row.locator("input.vis").is_checked()
    page.page.wait_for_function(f"() => window.sdiMap.map.querySourceFeatures('src-{layer_id}').length > 0",
                                timeout=30_000)
    assert page.page.evaluate("window.sdiMap.map.getZoom()") > 11
    # served by the OGC API, with the metadata and the grant the form set
    items = httpx.get(f"{live_server.url}/ogc/collections/{layer_id}/items?f=json", timeout=30).json()
    assert sorted(f["properties"]["ten_diem"] for f in items["features"]) == [f"Điểm khảo sát {i}" for i in range(5)]
    layer = httpx.get(f"{live_server.url}/layers/{layer_id}", headers={"X-API-Key": keys["planner"]},
                      timeout=30).json()
    assert layer["keywords"] == ["khảo sát", "hộ dân"] and layer["keywords_en"] == ["survey", "households"]
    assert layer["abstract_vi"] == "Điểm khảo sát thử nghiệm." and layer["access_level"] == "public"
    assert layer["grants"] == {"kiemlam": "read"} and layer["owner"] == "skhcn"
    assert not [u for u in page.requests if keys["planner"] in u]  # the key never in a URL
    assert page.errors == [] and page.failed == [], (page.errors, page.failed)
    page.page.click("#tabs button[data-view='upload']")
    page.page.locator("#up-result").scroll_into_view_if_needed()
    page.wait_idle()
    page.screenshot("webmap-upload.png")
    # English throughout, the report too
    page.page.click("#lang-btn")
    assert page.page.locator("#tabs button[data-view='upload']").inner_text() == "Upload"
    assert page.page.inner_text("#up-submit") == "Publish"
    assert "Validation report" in page.page.inner_text("#up-result")


def test_a_refused_file_shows_why_and_creates_nothing(open_page, live_server, keys, engine, tmp_path, cleanup):
    suffix = os.urandom(3).hex()
    layer_id = f"ngoai_tinh_{suffix}"
    cleanup.append(layer_id)
    page = open_page(key=keys["planner"]).open()
    _upload_tab(page)
    # points in Hà Nội, outside Lạng Sơn: 422 with the report
    page.page.set_input_files("#up-file", str(_gpkg(tmp_path / "ha_noi.gpkg", lon=105.80, lat=21.02)))
    page.page.fill("#up-id", layer_id)
    page.page.fill("#up-title-vi", "Ngoài tỉnh")
    page.page.click("#up-submit")
    page.page.wait_for_selector("body[data-upload='refused']", timeout=60_000)
    result = page.page.locator("#up-result")
    detail = result.locator(".problem").inner_text()  # the problem's detail, as the server words it
    assert detail.startswith(f"Không nạp được lớp {layer_id} / load refused") and "outside_province" in detail
    counts = page.page.eval_on_selector_all("#up-result table.counts td", "tds => tds.map(td => td.textContent)")
    assert counts == ["5", "0", "0", "5"]  # read, inserted, repaired, rejected
    issue = result.locator(".issue[data-code='outside_province']")
    assert "Nằm ngoài tỉnh Lạng Sơn" in issue.inner_text()
    assert _exists(engine, layer_id) == (False, False)
    assert page.page.locator(f"#layer-list .layer[data-layer='{layer_id}']").count() == 0
    # a reserved id: the server's Vietnamese / English detail
    page.page.set_input_files("#up-file", str(_gpkg(tmp_path / "ok.gpkg")))
    page.page.fill("#up-id", "catalogue")
    page.page.click("#up-submit")
    page.page.wait_for_function(
        "() => document.querySelector('#up-result .problem')?.textContent.includes('catalogue')", timeout=60_000)
    assert _exists(engine, "catalogue")[1] is False
    assert result.locator(".problem").inner_text().startswith("Mã lớp đã dành riêng / the layer id 'catalogue'")
    # a bad id is caught before sending
    page.page.fill("#up-id", "1-Lớp")
    page.page.click("#up-submit")
    assert page.page.inner_text("#up-error").startswith("Mã lớp phải bắt đầu bằng chữ cái")
    assert [u.split()[0] for u in page.failed] == ["422", "400"]  # the bad id was not sent
    assert all(e.startswith("Failed to load resource") for e in page.errors), page.errors


def test_a_large_file_shows_its_upload_progress(open_page, keys, engine, tmp_path, cleanup):
    # ~4 MB of GeoJSON (points outside the province: refused once it is in) sent at 2 MB/s
    layer_id = f"lon_{os.urandom(3).hex()}"
    cleanup.append(layer_id)
    note = "x" * 40_000
    feature = json.dumps({"type": "Feature", "properties": {"ghi_chu": note},
                          "geometry": {"type": "Point", "coordinates": [105.8, 21.0]}})
    big = tmp_path / "lon.geojson"
    big.write_text(f'{{"type": "FeatureCollection", "features": [{", ".join([feature] * 100)}]}}')
    page = open_page(key=keys["planner"]).open()
    _upload_tab(page)
    cdp = page.context.new_cdp_session(page.page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": 2_000_000})
    page.page.set_input_files("#up-file", str(big))
    page.page.fill("#up-id", layer_id)
    page.page.fill("#up-title-vi", "Tệp lớn")
    page.page.evaluate("""() => { window.__bar = []; const bar = document.querySelector('#up-progress progress');
      const label = document.querySelector('#up-progress span');
      new MutationObserver(() => window.__bar.push([bar.getAttribute('value'), label.textContent]))
        .observe(label, { childList: true, characterData: true, subtree: true }); }""")
    page.page.click("#up-submit")
    page.page.wait_for_selector("body[data-upload='refused']", timeout=60_000)
    seen = page.page.evaluate("window.__bar")
    partial = [v for v, _ in seen if v is not None and 0 < float(v) < 1]
    assert len(partial) >= 2 and partial == sorted(partial), seen  # the bar moves as the bytes go
    assert seen[-1][1].startswith("Đã gửi xong"), seen
    assert page.page.locator("#up-progress").is_hidden()
    assert _exists(engine, layer_id) == (False, False)


def test_the_upload_tab_on_a_phone(open_page, keys):
    page = open_page(key=keys["planner"], viewport=PHONE).open()
    tabs = page.page.eval_on_selector_all("#tabs button", "bs => bs.map(b => b.getBoundingClientRect().toJSON())")
    bar = page.page.eval_on_selector("#topbar", "e => e.getBoundingClientRect().bottom")
    assert len(tabs) == 4 and len({round(t["top"]) for t in tabs}) == 1 and all(t["bottom"] <= bar for t in tabs)
    page.page.click("#tabs button[data-view='upload']")
    page.page.wait_for_selector("#up-agencies input[name=share]")
    assert page.page.locator("#upload-form").is_visible()
    page.screenshot("webmap-phone-upload.png")
