"""Publishing a new layer from an agency's file (``sdi layers create``): schema inferred, table created,
rows validated, all in one transaction, and the layer served at once by the running server."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import zipfile

import geopandas as gpd
import httpx
import morecantile
import pyogrio
import pytest
import shapely
from sqlalchemy import MetaData, Table, func, select, text

from layers.catalog import load_catalog
from layers.publish import create_layer
from sdi.errors import ConflictError, InvalidInputError, ValidationFailedError

#: places in Lạng Sơn city and around (lon, lat)
SITES = [("Động Tam Thanh", 106.7426, 21.8575, 1200, 4.6), ("Chùa Tam Thanh", 106.7433, 21.8580, 800, 4.4),
         ("Núi Tô Thị", 106.7460, 21.8540, 650, 4.1), ("Chợ Đông Kinh", 106.7603, 21.8486, 3000, 3.9),
         ("Hồ Phai Loạn", 106.7640, 21.8410, 400, 3.8)]


def _tourism(path, crs: int = 9215):
    frame = gpd.GeoDataFrame(
        {"Tên điểm": [s[0] for s in SITES], "Loại hình": ["hang động", "di tích", "thắng cảnh", "chợ", "hồ"],
         "Số khách/ngày": [s[3] for s in SITES], "Đánh giá": [s[4] for s in SITES],
         "Ngày khảo sát": [dt.date(2026, 10, 1 + i) for i in range(len(SITES))]},
        geometry=[shapely.Point(s[1], s[2]) for s in SITES], crs=4326).to_crs(crs)
    frame.to_file(path, driver="GPKG", layer="diem_du_lich")
    return path


def _published_tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'published'")).scalars())


def _layer_ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT id FROM layers")).scalars())


@pytest.fixture()
def cleanup(engine):
    made: list[str] = []
    yield made
    with engine.begin() as conn:  # the test's layers go, so other tests see the catalogue they expect
        for layer_id in made:
            conn.execute(text("DELETE FROM layers WHERE id = :i"), {"i": layer_id})
            Table(layer_id, MetaData(), schema="published").drop(conn, checkfirst=True)


def _wait_for(url: str, headers: dict | None = None, seconds: float = 5.0) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        resp = httpx.get(url, headers=headers, timeout=30)
        if resp.status_code == 200 or time.monotonic() > deadline:
            return resp
        time.sleep(0.2)


def test_a_published_geopackage_is_served_at_once(engine, settings, seeded, live_server, tmp_path, cleanup):
    gpkg = _tourism(tmp_path / "du_lich.gpkg")  # VN-2000 / TM-3 coordinates, Vietnamese column names
    layer_id = f"diem_du_lich_{tmp_path.name[-6:].replace('-', '_')}".lower()
    cleanup.append(layer_id)
    started = time.monotonic()
    layer, report = create_layer(gpkg, layer_id, engine=engine, settings=settings,
                                 title_vi="Điểm du lịch", title_en="Tourism sites", owner="svhttdl",
                                 access_level="public")
    assert report.committed and report.counts.inserted == len(SITES)
    assert layer.geometry == ["POINT"] and layer.natural_key == "fid"
    by_name = {c.name: c for c in layer.columns or []}
    assert {"ten_diem", "loai_hinh", "so_khach_ngay", "danh_gia", "ngay_khao_sat"} <= set(by_name)
    assert by_name["so_khach_ngay"].type == "integer" and by_name["danh_gia"].type == "real"
    assert by_name["ten_diem"].source == "Tên điểm"
    with engine.connect() as conn:
        index = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE schemaname = 'published' "
                                  "AND tablename = :t AND indexdef ILIKE '%gist%'"), {"t": layer_id}).scalar()
        table = layer.sa_table
        rows = conn.execute(select(table.c.ten_diem, func.ST_X(table.c.geom), func.ST_Y(table.c.geom))
                            .order_by(table.c.fid)).all()
    assert index is not None
    assert [r[0] for r in rows] == [s[0] for s in SITES]  # diacritics kept in the values
    for (_, x, y), site in zip(rows, SITES, strict=True):  # VN-2000 → lon/lat, to a few centimetres
        assert abs(x - site[1]) < 1e-6 and abs(y - site[2]) < 1e-6
    catalog = load_catalog(engine)
    assert catalog[layer_id].feature_count == len(SITES) and catalog[layer_id].extent is not None

    # the running server serves it, no restart: items, GDAL's OAPIF driver, vector tiles, /layers
    items = _wait_for(f"{live_server.url}/ogc/collections/{layer_id}/items?f=json")
    assert items.status_code == 200, items.text
    assert time.monotonic() - started < 30
    features = items.json()["features"]
    assert sorted(f["properties"]["ten_diem"] for f in features) == sorted(s[0] for s in SITES)
    frame = pyogrio.read_dataframe(f"OAPIF:{live_server.url}/ogc", layer=layer_id)
    assert len(frame) == len(SITES) and "ten_diem" in frame.columns
    t = morecantile.tms.get("WebMercatorQuad").tile(SITES[0][1], SITES[0][2], 14)
    tile = httpx.get(f"{live_server.url}/ogc/collections/{layer_id}/tiles/WebMercatorQuad/14/{t.y}/{t.x}?f=mvt",
                     timeout=30)
    assert tile.status_code == 200 and len(tile.content) > 20
    listed = httpx.get(f"{live_server.url}/layers", timeout=30).json()
    assert layer_id in {entry["id"] for entry in listed}
    web = httpx.get(f"{live_server.url}/webmap/features/{layer_id}", timeout=30)
    assert web.status_code == 200 and len(web.json()["features"]) == len(SITES)
    assert layer_id in httpx.get(f"{live_server.url}/qgis/project.qgs", timeout=30).text
    records = httpx.get(f"{live_server.url}/ogc/collections/catalogue/items?f=json&limit=100", timeout=30).json()
    assert layer_id in {r["id"] for r in records["features"]}


def test_a_restricted_layer_is_served_only_to_those_allowed(engine, settings, seeded, live_server, keys, tmp_path,
                                                            cleanup):
    gpkg = _tourism(tmp_path / "tuan_tra.gpkg", crs=4326)
    layer_id = f"tuan_tra_{tmp_path.name[-6:].replace('-', '_')}".lower()
    cleanup.append(layer_id)
    create_layer(gpkg, layer_id, engine=engine, settings=settings, title_vi="Khu vực tuần tra",
                 title_en="Patrol areas", owner="bdbp", access_level="restricted")
    url = f"{live_server.url}/ogc/collections/{layer_id}/items"
    assert _wait_for(url, {"X-API-Key": keys["border"]}).status_code == 200
    assert httpx.get(url, timeout=30).status_code == 404  # anonymous: it does not exist
    assert httpx.get(url, headers={"X-API-Key": keys["planner"]}, timeout=30).status_code == 404
    collections = httpx.get(f"{live_server.url}/ogc/collections?f=json", timeout=30).json()["collections"]
    assert layer_id not in {c["id"] for c in collections}


@pytest.mark.parametrize("bad", ["có dấu", "a b", "x; DROP TABLE layers; --", "a" * 200, "layers", "catalogue",
                                 "forest_plots", "spatial_ref_sys", "pg_shadow", "1abc", ""])
def test_a_bad_layer_id_is_refused_and_nothing_is_created(engine, settings, seeded, tmp_path, bad):
    gpkg = _tourism(tmp_path / "x.gpkg")
    before = (_layer_ids(engine), _published_tables(engine))
    with pytest.raises((InvalidInputError, ConflictError)) as info:
        create_layer(gpkg, bad, engine=engine, settings=settings, title_vi="X", title_en="X", owner="svhttdl")
    assert "Mã lớp" in info.value.detail and "layer id" in info.value.detail
    assert (_layer_ids(engine), _published_tables(engine)) == before


def test_bad_files_are_refused_and_nothing_is_created(engine, settings, seeded, tmp_path):
    hanoi = gpd.GeoDataFrame({"name": ["Hồ Gươm"]}, geometry=[shapely.Point(105.852, 21.028)], crs=4326)
    hanoi.to_file(tmp_path / "hanoi.geojson", driver="GeoJSON")
    mixed = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "a"}, "geometry": {"type": "Point", "coordinates": [106.76, 21.85]}},
        {"type": "Feature", "properties": {"name": "b"}, "geometry": {
            "type": "Polygon", "coordinates": [[[106.7, 21.8], [106.8, 21.8], [106.8, 21.9], [106.7, 21.8]]]}}]}
    (tmp_path / "mixed.geojson").write_text(json.dumps(mixed), encoding="utf-8")
    (tmp_path / "empty.geojson").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a map", encoding="utf-8")
    before = (_layer_ids(engine), _published_tables(engine))
    cases = [("hanoi.geojson", ValidationFailedError), ("mixed.geojson", ValidationFailedError),
             ("empty.geojson", InvalidInputError), ("notes.txt", InvalidInputError)]
    for name, error in cases:
        with pytest.raises(error) as info:
            create_layer(tmp_path / name, "lop_thu", engine=engine, settings=settings, title_vi="Thử",
                         title_en="Test", owner="svhttdl")
        assert "/" in info.value.detail, name  # Vietnamese / English
        assert (_layer_ids(engine), _published_tables(engine)) == before, name
    with pytest.raises(InvalidInputError, match="Vietnamese title"):
        create_layer(tmp_path / "hanoi.geojson", "lop_thu", engine=engine, settings=settings, title_vi=" ",
                     title_en="Test", owner="svhttdl")
    with pytest.raises(InvalidInputError, match="unknown agency"):
        create_layer(tmp_path / "hanoi.geojson", "lop_thu", engine=engine, settings=settings, title_vi="Thử",
                     title_en="Test", owner="khong_co")
    assert (_layer_ids(engine), _published_tables(engine)) == before


def test_the_command_asks_for_a_crs_when_a_shapefile_has_none(engine, settings, seeded, tmp_path):
    frame = gpd.GeoDataFrame({"ten": ["Cây nghiến cổ"]}, geometry=[shapely.Point(106.76, 21.85)], crs=4326)
    frame.to_file(tmp_path / "cay.shp")
    archive = tmp_path / "cay.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in ("shp", "shx", "dbf", "cpg"):  # no .prj
            zf.write(tmp_path / f"cay.{ext}", f"cay.{ext}")
    before = (_layer_ids(engine), _published_tables(engine))
    result = subprocess.run([sys.executable, "-m", "sdi.cli", "layers", "create", "cay_quy_hiem", str(archive),
                             "--title-vi", "Cây quý hiếm", "--owner", "snnmt"],
                            env={"SDI_DATABASE_URL": settings.database_url, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--crs" in result.stderr
    assert (_layer_ids(engine), _published_tables(engine)) == before


def test_a_published_layer_takes_more_rows_through_the_loader(engine, settings, seeded, tmp_path, cleanup):
    from layers.loader import load_vector

    layer_id = f"them_dong_{tmp_path.name[-6:].replace('-', '_')}".lower()
    cleanup.append(layer_id)
    first = gpd.GeoDataFrame({"ma": ["A", "B"], "ten": ["Một", "Hai"]},
                             geometry=[shapely.Point(106.75, 21.85), shapely.Point(106.76, 21.85)], crs=4326)
    first.to_file(tmp_path / "a.geojson", driver="GeoJSON")
    create_layer(tmp_path / "a.geojson", layer_id, engine=engine, settings=settings, title_vi="Thêm dòng",
                 title_en="More rows", owner="sxd", key="ma")
    more = gpd.GeoDataFrame({"ma": ["B", "C"], "ten": ["Hai (sửa)", "Ba"]},
                            geometry=[shapely.Point(106.76, 21.86), shapely.Point(106.77, 21.85)], crs=4326)
    more.to_file(tmp_path / "b.geojson", driver="GeoJSON")
    layer = load_catalog(engine)[layer_id]
    report = load_vector(tmp_path / "b.geojson", layer, engine=engine, settings=settings, if_exists="upsert")
    assert (report.counts.inserted, report.counts.updated) == (1, 1)
    with engine.connect() as conn:
        table = layer.sa_table
        rows = dict(conn.execute(select(table.c.ma, table.c.ten).order_by(table.c.ma)).all())
    assert rows == {"A": "Một", "B": "Hai (sửa)", "C": "Ba"}
    assert load_catalog(engine)[layer_id].feature_count == 3
