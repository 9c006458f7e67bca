"""Bad input: each refused with a precise error, nothing registered, nothing left in the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from rasters.errors import RasterRejected
from tests.uav_ingest import rasters
from tests.uav_ingest.helpers import run_sdi, state
from uav_ingest.ingest import ingest_file, parse_when

pytestmark = [pytest.mark.usefixtures("own_rows"),
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]
TRANSFORM = from_origin(448000.0, 2417200.0, 0.05, 0.05)  # VN-2000 / TM-3, Lạng Sơn city


def _geotiff(path: Path, data: np.ndarray, **profile) -> Path:
    base = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0], dtype=data.dtype,
                crs="EPSG:9215", transform=TRANSFORM)
    base.update(profile)
    with rasterio.open(path, "w", **base) as ds:
        ds.write(data)
    return path


def empty(tmp: Path) -> Path:
    (tmp / "empty.tif").write_bytes(b"")
    return tmp / "empty.tif"


def truncated(tmp: Path) -> Path:
    full = rasters.uav_rgb(tmp / "full.tif", width=800, height=600, seed=21)
    data = full.read_bytes()
    (tmp / "truncated.tif").write_bytes(data[: len(data) // 2])
    return tmp / "truncated.tif"


def corrupt_blocks(tmp: Path) -> Path:
    """A sound header and directory, garbage inside a compressed tile: fails while converting."""
    path = _geotiff(tmp / "corrupt.tif", np.random.default_rng(1).integers(0, 60, (3, 1024, 1024), dtype=np.uint8),
                    tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    with rasterio.open(path) as ds:
        offset = int(ds.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
        size = int(ds.get_tag_item("BLOCK_SIZE_1_1", "TIFF", bidx=1))
    data = bytearray(path.read_bytes())
    data[offset:offset + size] = np.random.default_rng(2).integers(0, 255, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def plain_image(driver: str, ext: str):
    def make(tmp: Path) -> Path:
        path = tmp / f"anh_flycam.{ext}"
        with rasterio.open(path, "w", driver=driver, width=64, height=64, count=3, dtype="uint8") as ds:
            ds.write(np.full((3, 64, 64), 120, dtype=np.uint8))
        return path
    return make


def no_crs(tmp: Path) -> Path:
    return _geotiff(tmp / "no_crs.tif", np.ones((3, 64, 64), np.uint8), crs=None)


def no_georeference(tmp: Path) -> Path:
    return _geotiff(tmp / "plain.tif", np.ones((3, 64, 64), np.uint8), crs=None, transform=None)


def complex_type(tmp: Path) -> Path:
    return _geotiff(tmp / "complex.tif", np.ones((1, 64, 64), np.complex64))


def absurd_size(tmp: Path) -> Path:
    """A header claiming 200,000 × 200,000 px: sparse, a few kB on disk."""
    path = tmp / "huge.tif"
    with rasterio.open(path, "w", driver="GTiff", width=200_000, height=200_000, count=3, dtype="uint8",
                       crs="EPSG:9215", transform=TRANSFORM, tiled=True, sparse_ok=True, bigtiff="YES"):
        pass
    assert path.stat().st_size < 10_000_000
    return path


def outside_province(tmp: Path) -> Path:
    return rasters.LANDSAT8  # real Landsat 8 over Rondônia, Brazil


def not_an_image(tmp: Path) -> Path:
    (tmp / "bao_cao.tif").write_text("Báo cáo tuần tra rừng / patrol report\n", encoding="utf-8")
    return tmp / "bao_cao.tif"


def zip_file(tmp: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(tmp / "ortho.zip", "w") as z:
        z.writestr("ortho.tif", b"II*\x00")
    return tmp / "ortho.zip"


def two_bands(tmp: Path) -> Path:
    return _geotiff(tmp / "two.tif", np.ones((2, 64, 64), np.uint8))


def all_masked(tmp: Path) -> Path:
    path = tmp / "masked.tif"
    with rasterio.open(path, "w", driver="GTiff", width=256, height=256, count=4, dtype="uint8", crs="EPSG:9215",
                       transform=TRANSFORM, photometric="RGB", alpha="YES") as ds:
        ds.write(np.full((3, 256, 256), 90, np.uint8), [1, 2, 3])
        ds.write(np.zeros((256, 256), np.uint8), 4)
    return path


def multispectral_without_nir(tmp: Path) -> Path:
    return _geotiff(tmp / "ms4.tif", np.ones((4, 64, 64), np.uint16))


CASES = {
    "zero_byte": (empty, "uav_rgb", "empty_file", "0 bytes"),
    "truncated_tiff": (truncated, "uav_rgb", "corrupt", "truncated TIFF"),
    "corrupt_tiles": (corrupt_blocks, "uav_rgb", "corrupt", "corrupt or truncated"),
    "plain_jpeg": (plain_image("JPEG", "jpg"), "uav_rgb", "no_georeference", "plain JPEG image without georef"),
    "plain_png": (plain_image("PNG", "png"), "uav_rgb", "no_georeference", "plain PNG image without georef"),
    "geotiff_without_crs": (no_crs, "uav_rgb", "no_crs", "has no CRS"),
    "tiff_without_georeference": (no_georeference, "uav_rgb", "no_georeference", "no CRS, no geotransform"),
    "complex_data_type": (complex_type, "dem", "unsupported_dtype", "complex64"),
    "absurd_dimensions": (absurd_size, "uav_rgb", "too_large", "200,000×200,000 pixels exceed"),
    "outside_province": (outside_province, "sentinel2_l2a", "outside_province", "outside Lạng Sơn"),
    "not_an_image": (not_an_image, "uav_rgb", "not_an_image", "not an image"),
    "zip_archive": (zip_file, "uav_rgb", "not_an_image", "ZIP"),
    "rgb_with_two_bands": (two_bands, "uav_rgb", "bands", "needs 3 bands"),
    "nothing_valid": (all_masked, "uav_rgb", "no_valid_data", "no valid pixel"),
    "multispectral_without_nir": (multispectral_without_nir, "uav_multispectral", "bands", "no near-infrared"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_and_leaves_nothing(case, engine, ingest_settings, store_dir, tmp_path):
    make, collection, code, words = CASES[case]
    src = make(tmp_path)
    settings = ingest_settings.model_copy(update={"max_raster_pixels": 50_000_000})
    before = state(engine, store_dir)
    with pytest.raises(RasterRejected) as caught:
        ingest_file(src, collection_id=collection, when=parse_when("2026-03-15"), engine=engine, settings=settings)
    assert caught.value.code == code, caught.value.detail
    assert words in caught.value.detail
    assert " / " in caught.value.detail  # Vietnamese first, English alongside
    assert state(engine, store_dir) == before


def test_oversize_file_is_refused_before_reading(engine, ingest_settings, store_dir, tmp_path):
    src = rasters.uav_rgb(tmp_path / "big.tif", width=600, height=400, seed=22)
    settings = ingest_settings.model_copy(update={"max_raster_bytes": src.stat().st_size - 1})
    before = state(engine, store_dir)
    with pytest.raises(RasterRejected) as caught:
        ingest_file(src, collection_id="uav_rgb", when=parse_when("2026-03-15"), engine=engine, settings=settings)
    assert caught.value.code == "too_large" and caught.value.status == 413
    assert state(engine, store_dir) == before


def test_cli_names_the_problem(settings, store_dir, tmp_path):
    src = plain_image("JPEG", "jpg")(tmp_path)
    result = run_sdi(settings, "ingest", str(src), "-c", "uav_rgb", "-t", "2026-03-15",
                     SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 2
    assert "no_georeference" in result.stdout and "GeoTIFF" in result.stdout
    assert not [p for p in store_dir.rglob("*") if p.is_file()]


def test_unknown_collection_and_bad_datetime(settings, store_dir, tmp_path):
    src = rasters.uav_rgb(tmp_path / "a.tif", width=300, height=300, seed=23)
    result = run_sdi(settings, "ingest", str(src), "-c", "khong_co", "-t", "2026-03-15",
                     SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 2 and "khong_co" in result.stdout and "uav_rgb" in result.stdout
    result = run_sdi(settings, "ingest", str(src), "-c", "uav_rgb", "-t", "15/03/2026",
                     SDI_RASTER_STORE=str(store_dir))
    assert result.returncode == 2 and "ISO 8601" in (result.stdout + result.stderr)
    assert not [p for p in store_dir.rglob("*") if p.is_file()]
