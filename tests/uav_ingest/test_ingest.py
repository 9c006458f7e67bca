"""From file to catalogue: UAV RGB in VN-2000 and a multispectral flight through the real ``sdi ingest``;
the COG, its statistics, footprint and STAC item; re-ingest by checksum; other kinds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rio_cogeo.cogeo import cog_validate
from sqlalchemy import text

from tests.uav_ingest import rasters
from tests.uav_ingest.helpers import run_sdi, state
from uav_ingest.ingest import ingest_file, parse_when

pytestmark = pytest.mark.usefixtures("own_rows")


def _row(engine, item_id: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT *, ST_Area(footprint::geography) AS fp_area, ST_Area(ST_Envelope(footprint)::geography) AS "
            "bbox_area, ST_AsText(footprint) AS fp_wkt FROM raster_items WHERE id = :i").bindparams(i=item_id)).one()
    return dict(row._mapping)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _only_item(engine, source_sha: str) -> dict:
    with engine.connect() as conn:
        item_id = conn.execute(text("SELECT id FROM raster_items WHERE source_sha256 = :s")
                               .bindparams(s=source_sha)).scalar_one()
    return _row(engine, item_id)


def test_uav_rgb_orthomosaic_in_vn2000_one_command(engine, settings, store_dir, tmp_path):
    src = rasters.uav_rgb(tmp_path / "bay_flycam_Chi_Lăng_2026-03-15.tif", seed=11)
    result = run_sdi(settings, "ingest", str(src), "--collection", "uav_rgb", "--datetime", "2026-03-15T09:30",
                     "--platform", "DJI Phantom 4 RTK", SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 0, result.stderr + result.stdout
    row = _only_item(engine, _sha(src))
    assert row["id"] in result.stdout and "ingested" in result.stdout  # the summary table
    assert row["id"].startswith("bay-flycam-chi-lang-2026-03-15-")
    assert row["status"] == "ready" and row["collection_id"] == "uav_rgb"
    assert row["epsg"] == 9215 and row["gsd_m"] == pytest.approx(0.05)
    assert row["datetime"].isoformat() == "2026-03-15T02:30:00+00:00"  # no offset given: Vietnam time
    cog = store_dir / row["href"]
    assert cog.is_file() and _sha(cog) == row["cog_sha256"] and cog.stat().st_size == row["size_bytes"]

    valid, errors, _ = cog_validate(cog, quiet=True)
    assert valid, errors
    with rasterio.open(cog) as ds:
        assert ds.count == 3 and ds.dtypes[0] == "uint8"  # alpha became a mask
        assert ds.compression.value == "JPEG" and ds.photometric.value == "YCbCr"
        assert ds.nodata is None  # an internal mask, not a nodata value
        assert all(f.name == "per_dataset" for f in ds.mask_flag_enums[0])
        assert ds.overviews(1) == [2, 4] and ds.block_shapes[0] == (512, 512)
        assert ds.crs.to_epsg() == 9215
        mask = ds.dataset_mask()
    assert 0.25 < (mask > 0).mean() < 0.35  # the rotated flight block

    # footprint: the rotated block, clearly smaller than its bounding box, inside it
    assert row["fp_area"] < 0.7 * row["bbox_area"]
    assert row["fp_area"] == pytest.approx(0.303 * 1600 * 1200 * 0.05 ** 2, rel=0.05)

    stac = row["stac"]
    assert stac["collection"] == "uav_rgb" and stac["properties"]["platform"] == "DJI Phantom 4 RTK"
    assert stac["properties"]["gsd"] == pytest.approx(0.05) and stac["properties"]["proj:code"] == "EPSG:9215"
    assert stac["properties"]["sdi:source_sha256"] == row["source_sha256"]
    asset = stac["assets"]["data"]
    assert asset["href"] == f"/rasters/{row['id']}/cog.tif"
    assert asset["file:checksum"] == "1220" + row["cog_sha256"] and asset["file:size"] == row["size_bytes"]
    assert [b["common_name"] for b in asset["eo:bands"]] == ["red", "green", "blue"]
    bands = asset["raster:bands"]
    assert len(bands) == 3
    for band in bands:
        s = band["statistics"]
        assert 0 <= s["minimum"] < s["mean"] < s["maximum"] <= 255 and s["stddev"] > 0
        assert s["valid_percent"] == pytest.approx(30.3, abs=1.0)
        assert sum(band["histogram"]["buckets"]) > 0
    assert any(link["rel"] == "xyz" and link["href"].startswith(f"/rasters/{row['id']}/tiles/")
               for link in stac["links"])
    assert not list((store_dir / ".tmp").iterdir())  # no work file left


def test_multispectral_one_command(engine, settings, store_dir, tmp_path):
    src = rasters.multispectral(tmp_path / "ms_huu_lien.tif", seed=12)
    result = run_sdi(settings, "ingest", str(src), "-c", "uav_multispectral", "-t", "2026-04-02T10:00:00+07:00",
                     SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 0, result.stderr + result.stdout
    row = _only_item(engine, _sha(src))
    cog = store_dir / row["href"]
    assert cog_validate(cog, quiet=True)[0]
    with rasterio.open(cog) as ds, rasterio.open(src) as original:
        assert ds.count == 5 and ds.dtypes[0] == "uint16" and ds.nodata == 0  # lossless: nodata kept
        assert ds.compression.value == "ZSTD" and ds.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "2"
        assert ds.overviews(1) == [2]
        assert ds.descriptions == original.descriptions
        assert np.array_equal(ds.read(), original.read())  # lossless indeed
        data = original.read(5)
    asset = row["stac"]["assets"]["data"]
    assert [b["common_name"] for b in asset["eo:bands"]] == ["blue", "green", "red", "rededge", "nir"]
    nir = asset["raster:bands"][4]["statistics"]
    valid = data[data > 0]
    assert nir["minimum"] == valid.min() and nir["maximum"] == valid.max()  # exact below 2048 px
    assert nir["mean"] == pytest.approx(valid.mean(), rel=1e-4)
    assert row["fp_area"] < 0.85 * row["bbox_area"]  # an ellipse: π/4 of its box


def test_sentinel2_like_stack_from_real_landsat_pixels(engine, ingest_settings, tmp_path):
    src = rasters.sentinel2_like(tmp_path / "S2B_MSIL2A_20260310_T48QXJ.tif")
    result = ingest_file(src, collection_id="sentinel2_l2a", when=parse_when("2026-03-10T03:30:00Z"),
                         engine=engine, settings=ingest_settings, platform="sentinel-2b")
    assert result.status == "ingested" and result.epsg == 32648 and result.gsd_m == pytest.approx(10.0)
    asset = result.stac["assets"]["data"]
    assert [b["name"] for b in asset["eo:bands"]] == ["B02", "B03", "B04", "B08"]
    assert [b["common_name"] for b in asset["eo:bands"]] == ["blue", "green", "red", "nir"]
    with rasterio.open(src) as ds:
        red = ds.read(3, masked=True)
    stats = asset["raster:bands"][2]["statistics"]
    assert stats["minimum"] == red.min() and stats["maximum"] == red.max()
    assert stats["valid_percent"] == pytest.approx(100 * red.count() / red.size, abs=0.01)


def test_dem_and_categorical_profiles(engine, ingest_settings, tmp_path):
    dem = ingest_file(rasters.dem(tmp_path / "dem_2m.tif"), collection_id="dem", when=parse_when("2026-01-01"),
                      engine=engine, settings=ingest_settings)
    path = Path(ingest_settings.raster_store) / f"dem/{dem.item_id}.tif"
    with rasterio.open(path) as ds:
        assert ds.compression.value == "ZSTD" and ds.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "3"
        assert ds.nodata == -9999 and ds.dtypes[0] == "float32"
    assert dem.stac["assets"]["data"]["raster:bands"][0]["unit"] == "m"

    lc = ingest_file(rasters.classes(tmp_path / "lop_phu.tif"), collection_id="land_cover",
                     when=parse_when("2026-01-01"), engine=engine, settings=ingest_settings)
    path = Path(ingest_settings.raster_store) / f"land_cover/{lc.item_id}.tif"
    with rasterio.open(path) as ds:
        assert ds.tags()["OVERVIEW_RESAMPLING"] == "NEAREST"
        assert ds.overviews(1) == [2]
        overview = ds.read(1, out_shape=(ds.height // 2, ds.width // 2))  # read from the overview
    assert set(np.unique(overview)) <= {1, 2, 3, 7}  # nearest: no averaged, made-up classes
    band = lc.stac["assets"]["data"]["raster:bands"][0]
    assert set(band["sdi:class_counts"]) == {"1", "2", "3", "7"}


def test_same_file_again_is_detected_by_checksum(engine, settings, ingest_settings, store_dir, tmp_path):
    src = rasters.uav_rgb(tmp_path / "ortho.tif", width=700, height=500, seed=13)
    first = ingest_file(src, collection_id="uav_rgb", when=parse_when("2026-03-15"), engine=engine,
                        settings=ingest_settings)
    before = state(engine, store_dir)
    copy = tmp_path / "renamed_copy.tif"
    copy.write_bytes(src.read_bytes())
    again = ingest_file(copy, collection_id="uav_rgb", when=parse_when("2026-05-01"), engine=engine,
                        settings=ingest_settings)
    assert again.status == "duplicate" and again.item_id == first.item_id
    assert state(engine, store_dir) == before  # no new row, no new file
    # also through the command: exit 0, said in the summary
    result = run_sdi(settings, "ingest", str(src), "-c", "uav_rgb", "-t", "2026-03-15",
                     SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 0 and "duplicate" in result.stdout
    assert state(engine, store_dir) == before


def test_summary_of_several_files_and_exit_code(engine, settings, store_dir, tmp_path):
    good = rasters.uav_rgb(tmp_path / "a.tif", width=600, height=500, seed=14)
    bad = tmp_path / "notes.tif"
    bad.write_text("không phải ảnh / not an image\n")
    result = run_sdi(settings, "ingest", str(good), str(bad), "-c", "uav_rgb", "-t", "2026-03-15",
                     SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 2
    assert "ingested" in result.stdout and "failed" in result.stdout and "not_an_image" in result.stdout
    files, rows = state(engine, store_dir)
    assert [f for f in files if f.endswith(".tif")] == [f"uav_rgb/{_only_item(engine, _sha(good))['id']}.tif"]


def test_stac_item_is_json_serialisable_and_complete(engine, ingest_settings, tmp_path):
    result = ingest_file(rasters.uav_rgb(tmp_path / "x.tif", width=600, height=600, seed=15, alpha=False),
                         collection_id="uav_rgb", when=parse_when("2026-03-15"), engine=engine,
                         settings=ingest_settings)
    item = json.loads(json.dumps(result.stac))
    for ext in ("eo", "projection", "raster", "file", "web-map-links"):
        assert any(f"/{ext}/" in uri for uri in item["stac_extensions"]), ext
    assert item["type"] == "Feature" and item["geometry"]["type"] == "MultiPolygon"
    footprint = shapely.geometry.shape(item["geometry"])
    assert footprint.is_valid and shapely.box(*item["bbox"]).contains(footprint.buffer(-1e-9))
    with rasterio.open(Path(ingest_settings.raster_store) / f"uav_rgb/{result.item_id}.tif") as ds:
        assert ds.nodata is None and ds.compression.value == "JPEG"  # nodata 0 became a mask too


def test_web_optimized_option(engine, ingest_settings, tmp_path):
    result = ingest_file(rasters.uav_rgb(tmp_path / "wo.tif", width=600, height=500, seed=16),
                         collection_id="uav_rgb", when=parse_when("2026-03-15"), engine=engine,
                         settings=ingest_settings, web_optimized=True)
    with rasterio.open(Path(ingest_settings.raster_store) / f"uav_rgb/{result.item_id}.tif") as ds:
        assert ds.crs.to_epsg() == 3857 and ds.tags()["TILING_SCHEME_NAME"] == "WebMercatorQuad"
    assert result.stac["properties"]["proj:code"] == "EPSG:3857"
    assert shapely.geometry.shape(result.stac["geometry"]).intersects(shapely.Point(106.75, 21.85).buffer(0.001))
