"""``POST /layers``: an agency publishes a layer over HTTP; the running server serves it at once, and
every kind of bad upload is refused with a precise problem and leaves nothing behind."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
import zipfile

import httpx
from sqlalchemy import text

from sdi.access import add_key, revoke_key
from sdi.settings import Settings
from tests.api.publishing import gpkg_of as _gpkg
from tests.api.publishing import post_layer as _post
from tests.conftest import start_server, stop_server

PROBLEM = "application/problem+json"


def _state(engine) -> tuple[set[str], set[str]]:
    with engine.connect() as conn:
        return (set(conn.execute(text("SELECT id FROM layers")).scalars()),
                set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'published'")).scalars()))


def test_an_agency_publishes_over_http_and_the_layer_is_served(live_server, keys, engine, tmp_path, made):
    made.append("cay_quy_hiem_http")
    resp = _post(live_server.url, _gpkg(tmp_path / "cay.gpkg"), "cay.gpkg", keys["planner"], id="cay_quy_hiem_http",
                 title_vi="Cây quý hiếm", title_en="Rare trees", access="public")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["layer"]["owner"] == "skhcn" and body["report"]["counts"]["inserted"] == 4
    assert resp.headers["location"].endswith("/layers/cay_quy_hiem_http")
    deadline = time.monotonic() + 5
    while (items := httpx.get(f"{live_server.url}/ogc/collections/cay_quy_hiem_http/items", timeout=30)) \
            .status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert items.status_code == 200
    assert sorted(f["properties"]["ten_cay"] for f in items.json()["features"]) == [f"Nghiến {i}" for i in range(4)]
    assert httpx.get(f"{live_server.url}/layers/cay_quy_hiem_http", timeout=30).json()["columns"]
    again = _post(live_server.url, _gpkg(tmp_path / "cay.gpkg"), "cay.gpkg", keys["planner"], id="cay_quy_hiem_http",
                  title_vi="Cây quý hiếm")
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


def test_who_may_publish(live_server, keys, engine, tmp_path):
    content = _gpkg(tmp_path / "x.gpkg")
    before = _state(engine)
    anonymous = _post(live_server.url, content, "x.gpkg", None, id="lop_an_danh", title_vi="X")
    assert anonymous.status_code == 401 and "Basic" in anonymous.headers["www-authenticate"]
    other = _post(live_server.url, content, "x.gpkg", keys["planner"], id="lop_khac", title_vi="X", owner="kiemlam")
    assert other.status_code == 403 and other.headers["content-type"].startswith(PROBLEM)
    name = f"revoked-{time.time_ns()}"
    revoked_key = add_key(engine, name, "skhcn")
    assert _post(live_server.url, b"", "x.gpkg", revoked_key, id="lop_thu_hoi", title_vi="X").status_code == 400
    revoke_key(engine, name)
    time.sleep(1.1)  # past the key cache
    revoked = _post(live_server.url, content, "x.gpkg", revoked_key, id="lop_thu_hoi", title_vi="X")
    assert revoked.status_code == 401
    assert _state(engine) == before


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_bad_uploads_are_refused_with_a_precise_problem_and_nothing_is_left(live_server, keys, engine, tmp_path):
    good = _gpkg(tmp_path / "g.gpkg")
    before = _state(engine)
    uploads = live_server_uploads(live_server)
    cases = [
        ("empty", b"", "empty.geojson", {}, 400),
        ("wrong extension", b"hello", "notes.txt", {}, 415),
        ("corrupt zip", b"PK\x03\x04 not really", "broken.zip", {}, 400),
        ("path traversal", _zip({"../x.shp": b"x", "../x.dbf": b"x"}), "trick.zip", {}, 400),
        ("zip bomb", _zip({"big.shp": bytes(40 * 1024**2), "big.dbf": b"x"}), "bomb.zip", {}, 400),
        ("no Vietnamese title", good, "g.gpkg", {"title_vi": " "}, 400),
        ("bad id", good, "g.gpkg", {"id": "x; DROP TABLE layers"}, 400),
        ("a bundled layer's table", good, "g.gpkg", {"id": "forest_plots"}, 400),
        ("bad access level", good, "g.gpkg", {"access": "secret"}, 400),
    ]
    for what, content, name, fields, status in cases:
        form = {"id": "lop_loi", "title_vi": "Lớp lỗi", **fields}
        resp = _post(live_server.url, content, name, keys["planner"], **form)
        assert resp.status_code == status, (what, resp.status_code, resp.text)
        problem = resp.json()
        assert resp.headers["content-type"].startswith(PROBLEM) and " / " in problem["detail"], what
        assert _state(engine) == before, what
    assert live_server_uploads(live_server) == uploads  # no upload left in the state folder


def live_server_uploads(server) -> set[str]:
    folder = Settings().state_dir / "uploads"  # the live server's (the default state folder)
    return {p.name for p in folder.glob("*")} if folder.exists() else set()


def test_an_oversized_upload_is_refused_as_it_streams(settings, seeded, keys, engine, tmp_path):
    server = start_server(settings, {"SDI_MAX_UPLOAD_BYTES": "20000"})
    try:
        before = _state(engine)
        big = _gpkg(tmp_path / "big.gpkg", n=400)
        assert len(big) > 20000
        resp = _post(server.url, big, "big.gpkg", keys["planner"], id="lop_lon", title_vi="Lớn")
        assert resp.status_code == 413 and "SDI_MAX_UPLOAD_BYTES" in resp.json()["detail"]
        assert _state(engine) == before
    finally:
        stop_server(server)


def test_two_uploads_of_one_id_at_once_one_wins_the_other_is_a_409(live_server, keys, engine, tmp_path, made):
    made.append("lop_dong_thoi")
    content = _gpkg(tmp_path / "c.gpkg", n=50)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait()
        statuses.append(_post(live_server.url, content, "c.gpkg", keys["planner"], id="lop_dong_thoi",
                              title_vi="Đồng thời").status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM published.lop_dong_thoi")).scalar_one() == 50


def test_unpublish_takes_it_off_every_door_and_restore_brings_it_back(live_server, keys, engine, settings, tmp_path,
                                                                      made):
    made.append("cay_go_lai")
    created = _post(live_server.url, _gpkg(tmp_path / "u.gpkg", n=6), "u.gpkg", keys["planner"], id="cay_go_lai",
                    title_vi="Cây gỡ lại", access="public")
    assert created.status_code == 201
    items = f"{live_server.url}/ogc/collections/cay_go_lai/items"
    deadline = time.monotonic() + 5
    while httpx.get(items, timeout=30).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    # who may unpublish: not anonymous, not another agency
    assert httpx.delete(f"{live_server.url}/layers/cay_go_lai", timeout=30).status_code == 401
    assert httpx.delete(f"{live_server.url}/layers/cay_go_lai", headers={"X-API-Key": keys["ranger"]},
                        timeout=30).status_code == 403
    bundled = httpx.delete(f"{live_server.url}/layers/rivers", headers={"X-API-Key": keys["admin"]}, timeout=30)
    assert bundled.status_code == 400 and "bundled" in bundled.json()["detail"]
    gone = httpx.delete(f"{live_server.url}/layers/cay_go_lai", headers={"X-API-Key": keys["planner"]}, timeout=30)
    assert gone.status_code == 204
    time.sleep(1.2)  # within a second on every door
    assert httpx.get(items, timeout=30).status_code == 404
    assert "cay_go_lai" not in {e["id"] for e in httpx.get(f"{live_server.url}/layers", timeout=30).json()}
    assert "cay_go_lai" not in httpx.get(f"{live_server.url}/qgis/project.qgs", timeout=30).text
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT trash_table FROM layer_trash WHERE layer_id = 'cay_go_lai'")).scalar_one()
        assert conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'trash' AND tablename = :t"),
                            {"t": kept}).scalar_one() == 1
    restored = subprocess.run([sys.executable, "-m", "sdi.cli", "layers", "restore", "cay_go_lai"],
                              env={**os.environ, "SDI_DATABASE_URL": settings.database_url}, text=True,
                              capture_output=True, timeout=120)
    assert restored.returncode == 0 and "6 features" in restored.stdout, restored.stdout + restored.stderr
    again = subprocess.run([sys.executable, "-m", "sdi.cli", "layers", "restore", "cay_go_lai"],
                           env={**os.environ, "SDI_DATABASE_URL": settings.database_url}, text=True,
                           capture_output=True, timeout=120)
    assert again.returncode == 2 and "no unpublished layer" in again.stderr
    time.sleep(1.2)
    back = httpx.get(items, timeout=30)
    assert back.status_code == 200 and len(back.json()["features"]) == 6
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM layer_loads WHERE layer_id = 'cay_go_lai'")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM layer_trash WHERE layer_id = 'cay_go_lai'")).scalar_one() == 0


def test_the_owner_edits_the_metadata_and_every_door_shows_it(live_server, keys, engine, tmp_path, made):
    made.append("lop_sieu_du_lieu")
    assert _post(live_server.url, _gpkg(tmp_path / "m.gpkg"), "m.gpkg", keys["planner"], id="lop_sieu_du_lieu",
                 title_vi="Lớp thử", access="public").status_code == 201
    url = f"{live_server.url}/layers/lop_sieu_du_lieu"
    patch = {"title_vi": "Cây di sản", "title_en": "Heritage trees", "abstract_vi": "Cây cổ thụ được công nhận",
             "abstract_en": "Recognised old trees", "keywords": ["cây di sản", "cổ thụ"],
             "keywords_en": ["heritage tree"], "contact": "skhcn@langson.gov.vn", "lineage": "Khảo sát 2026",
             "temporal_start": "2026-01-01T00:00:00+07:00", "temporal_end": "2026-10-31T00:00:00+07:00",
             "scale_denominator": 10000, "update_frequency": "annually"}
    assert httpx.patch(url, json=patch, timeout=30).status_code == 401
    assert httpx.patch(url, json=patch, headers={"X-API-Key": keys["ranger"]}, timeout=30).status_code == 403
    resp = httpx.patch(url, json=patch, headers={"X-API-Key": keys["planner"]}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["title_vi"] == "Cây di sản" and resp.json()["keywords_en"] == ["heritage tree"]
    time.sleep(1.2)
    collection = httpx.get(f"{live_server.url}/ogc/collections/lop_sieu_du_lieu?f=json&lang=en", timeout=30).json()
    assert collection["title"] == "Heritage trees"
    record = httpx.get(f"{live_server.url}/ogc/collections/catalogue/items/lop_sieu_du_lieu?f=json", timeout=30)
    props = record.json()["properties"]
    assert (props["title"], props["title_en"], props["keywords_en"]) == ("Cây di sản", "Heritage trees",
                                                                         ["heritage tree"])
    assert props["time"]["interval"][0].startswith("2025-12-31T17:00")  # stored in UTC
    found = httpx.get(f"{live_server.url}/ogc/collections/catalogue/items?f=json&q=heritage", timeout=30).json()
    assert "lop_sieu_du_lieu" in {f["id"] for f in found["features"]}
    before = httpx.get(url, timeout=30).json()
    for bad, field in [({"title_vi": " "}, "title_vi"), ({"access_level": "secret"}, "access_level"),
                       ({"scale_denominator": -5}, "scale_denominator"), ({"colour": "red"}, "colour"),
                       ({"temporal_start": "2026-05-01T00:00:00+07:00", "temporal_end": "2026-01-01T00:00:00+07:00"},
                        "temporal_end"), ({"keywords": [""]}, "keywords")]:
        bad_resp = httpx.patch(url, json=bad, headers={"X-API-Key": keys["planner"]}, timeout=30)
        assert bad_resp.status_code == 400 and field in bad_resp.json()["detail"], (bad, bad_resp.text)
    assert httpx.get(url, timeout=30).json() == before  # nothing changed
    bundled = httpx.patch(f"{live_server.url}/layers/rivers", json={"title_en": "x"},
                          headers={"X-API-Key": keys["admin"]}, timeout=30)
    assert bundled.status_code == 400 and "catalog.yaml" in bundled.json()["detail"]


def test_iso_19139_and_dcat_records_for_the_national_portal(live_server, keys, engine, tmp_path, made):
    from lxml import etree

    made.append("lop_danh_muc")
    assert _post(live_server.url, _gpkg(tmp_path / "d.gpkg"), "d.gpkg", keys["planner"], id="lop_danh_muc",
                 title_vi="Cây di sản", title_en="Heritage trees", access="public").status_code == 201
    edited = httpx.patch(f"{live_server.url}/layers/lop_danh_muc", headers={"X-API-Key": keys["planner"]}, json={
        "keywords": ["cây di sản"], "keywords_en": ["heritage tree"], "lineage": "Khảo sát 2026",
        "contact": "skhcn@langson.gov.vn", "temporal_start": "2026-01-01T00:00:00+07:00"}, timeout=30)
    assert edited.status_code == 200
    time.sleep(1.2)
    xml = httpx.get(f"{live_server.url}/layers/lop_danh_muc/metadata.xml", timeout=30)
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    doc = etree.fromstring(xml.content)
    ns = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco"}
    title = doc.find(".//gmd:identificationInfo//gmd:citation//gmd:title", ns)
    assert title.findtext("gco:CharacterString", namespaces=ns) == "Cây di sản"
    assert title.findtext(".//gmd:LocalisedCharacterString", namespaces=ns) == "Heritage trees"  # a translation
    assert "Khảo sát 2026" in xml.text and "skhcn@langson.gov.vn" in xml.text
    dcat = httpx.get(f"{live_server.url}/layers/lop_danh_muc/dcat.jsonld", timeout=30)
    assert dcat.headers["content-type"].startswith("application/ld+json")
    body = dcat.json()
    assert {"@value": "Cây di sản", "@language": "vi"} in body["dct:title"]
    assert {"@value": "heritage tree", "@language": "en"} in body["dcat:keyword"]
    assert body["dct:temporal"]["dcat:startDate"]["@value"].startswith("2025-12-31T17:00")
    # a restricted layer's records do not exist for those who may not see it
    assert httpx.get(f"{live_server.url}/layers/border_belt/metadata.xml", timeout=30).status_code == 404
    assert httpx.get(f"{live_server.url}/layers/border_belt/dcat.jsonld", timeout=30).status_code == 404
    assert httpx.get(f"{live_server.url}/layers/border_belt/metadata.xml", headers={"X-API-Key": keys["border"]},
                     timeout=30).status_code == 200
