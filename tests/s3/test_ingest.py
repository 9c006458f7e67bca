"""``sdi ingest`` into an S3 bucket (a real SeaweedFS server): the COG lands as one object, is
registered, found again by checksum; ``--repair`` makes bucket and catalogue agree; bad input and
a wrong store leave the bucket and the catalogue as they were."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate
from sqlalchemy import text

from rasters.environment import gdal_env
from rasters.errors import RasterRejected, StoreError
from rasters.store import COG_MEDIA_TYPE, S3Store, open_store
from tests.conftest import free_port
from tests.s3.conftest import COLLECTION, PREFIX
from tests.s3.helpers import objects, sdi_env
from tests.uav_ingest import rasters
from tests.uav_ingest.helpers import run_sdi
from uav_ingest.ingest import ingest_file, parse_when

pytestmark = pytest.mark.usefixtures("own_rows")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rows(engine, source_sha: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(
            "SELECT id, status, href, cog_sha256, size_bytes, stac FROM raster_items WHERE source_sha256 = :s")
            .bindparams(s=source_sha))]


def _body(s3_server, bucket: str, key: str) -> bytes:
    return s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def _tmp_files(settings) -> list[Path]:
    return [p for p in (settings.state_dir / "raster-tmp").rglob("*") if p.is_file()]


def test_sdi_ingest_puts_the_cog_in_the_bucket(engine, s3_settings, s3_server, bucket, tmp_path):
    src = rasters.uav_rgb(tmp_path / "bay_flycam_Văn_Lãng_2026-03-15.tif", width=900, height=700, seed=41)
    result = run_sdi(s3_settings, "ingest", str(src), "-c", COLLECTION, "-t", "2026-03-15T09:30",
                     **sdi_env(s3_settings))
    assert result.returncode == 0, result.stdout + result.stderr
    (row,) = _rows(engine, _sha(src.read_bytes()))
    assert row["status"] == "ready" and row["id"] in result.stdout and "ingested" in result.stdout
    key = f"{PREFIX}/{COLLECTION}/{row['id']}.tif"
    assert row["href"] == f"{COLLECTION}/{row['id']}.tif"  # relative to the store root, as for a folder
    assert list(objects(s3_server, bucket)) == [key]  # one object, nothing else (no work file)
    head = s3_server.client().head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == COG_MEDIA_TYPE
    body = _body(s3_server, bucket, key)
    assert len(body) == row["size_bytes"] and _sha(body) == row["cog_sha256"]
    assert row["stac"]["assets"]["data"]["file:checksum"] == "1220" + row["cog_sha256"]
    assert not _tmp_files(s3_settings)  # the local work area is clean
    # GDAL reads it where it is (/vsis3/, path-style, the store's keys): a valid COG
    with rasterio.Env(**gdal_env(s3_settings)):
        assert cog_validate(f"s3://{bucket}/{key}", quiet=True)[0]
        with rasterio.open(f"s3://{bucket}/{key}") as ds, rasterio.open(src) as original:
            assert ds.count == 3 and ds.crs == original.crs and ds.overviews(1) == [2]


def test_same_file_again_is_a_duplicate_and_the_bucket_is_unchanged(engine, s3_settings, s3_server, bucket,
                                                                    tmp_path):
    src = rasters.uav_rgb(tmp_path / "ortho.tif", width=600, height=500, seed=42)
    first = ingest_file(src, collection_id=COLLECTION, when=parse_when("2026-03-15"), engine=engine,
                        settings=s3_settings)
    assert first.status == "ingested"
    before = objects(s3_server, bucket)
    copy = tmp_path / "renamed_copy.tif"
    copy.write_bytes(src.read_bytes())
    again = ingest_file(copy, collection_id=COLLECTION, when=parse_when("2026-05-01"), engine=engine,
                        settings=s3_settings)
    assert again.status == "duplicate" and again.item_id == first.item_id
    result = run_sdi(s3_settings, "ingest", str(src), "-c", COLLECTION, "-t", "2026-03-15", **sdi_env(s3_settings))
    assert result.returncode == 0 and "duplicate" in result.stdout, result.stdout + result.stderr
    assert objects(s3_server, bucket) == before  # same keys, same ETags: nothing re-uploaded
    assert len(_rows(engine, _sha(src.read_bytes()))) == 1


def test_a_lost_object_is_ingested_again(engine, s3_settings, s3_server, bucket, tmp_path):
    """A ready row whose object was deleted from the bucket: the same file is ingested anew."""
    src = rasters.uav_rgb(tmp_path / "lost.tif", width=500, height=400, seed=43)
    first = ingest_file(src, collection_id=COLLECTION, when=parse_when("2026-03-15"), engine=engine,
                        settings=s3_settings)
    key = f"{PREFIX}/{COLLECTION}/{first.item_id}.tif"
    s3_server.client().delete_object(Bucket=bucket, Key=key)
    again = ingest_file(src, collection_id=COLLECTION, when=parse_when("2026-03-15"), engine=engine,
                        settings=s3_settings)
    assert again.status == "ingested" and again.item_id == first.item_id
    (row,) = _rows(engine, _sha(src.read_bytes()))
    assert _sha(_body(s3_server, bucket, key)) == row["cog_sha256"]


def test_store_checksum_and_listing(s3_settings, s3_server, bucket, tmp_path):
    store = open_store(s3_settings)
    assert isinstance(store, S3Store)
    data = b"II*\x00" + bytes(range(256)) * 4000  # ~1 MB
    local = store.tmp_dir / "x.tif"
    local.write_bytes(data)
    seen: list[int] = []
    store.put(local, f"{COLLECTION}/x.tif", progress=seen.append)
    assert not local.exists() and sum(seen) == len(data)  # the work copy is gone; progress in bytes
    assert store.exists(f"{COLLECTION}/x.tif") and store.size(f"{COLLECTION}/x.tif") == len(data)
    assert store.sha256(f"{COLLECTION}/x.tif") == _sha(data)
    assert not store.exists(f"{COLLECTION}/y.tif") and store.size(f"{COLLECTION}/y.tif") is None
    s3_server.client().put_object(Bucket=bucket, Key="elsewhere/z.tif", Body=b"outside the prefix")
    assert list(store.keys()) == [f"{COLLECTION}/x.tif"]  # only under the store's prefix, relative to it
    assert store.gdal_path(f"{COLLECTION}/x.tif") == f"/vsis3/{bucket}/{PREFIX}/{COLLECTION}/x.tif"
    store.delete(f"{COLLECTION}/x.tif")
    assert not store.exists(f"{COLLECTION}/x.tif")
    store.delete(f"{COLLECTION}/x.tif")  # deleting what is not there is not an error
    assert list(objects(s3_server, bucket)) == ["elsewhere/z.tif"]


@pytest.mark.parametrize("case", ["not_an_image", "outside_province", "nothing_valid"])
def test_bad_input_leaves_the_bucket_and_catalogue_unchanged(case, engine, s3_settings, s3_server, bucket,
                                                             tmp_path):
    from tests.uav_ingest.test_bad_input import CASES

    make, collection, code, _ = CASES[case]
    s3_server.client().put_object(Bucket=bucket, Key=f"{PREFIX}/{COLLECTION}/earlier.tif", Body=b"II*\x00 earlier")
    before = objects(s3_server, bucket)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM raster_items")).scalar_one()
    with pytest.raises(RasterRejected) as caught:
        ingest_file(make(tmp_path), collection_id=collection, when=parse_when("2026-03-15"), engine=engine,
                    settings=s3_settings)
    assert caught.value.code == code
    assert objects(s3_server, bucket) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM raster_items")).scalar_one() == rows
    assert not _tmp_files(s3_settings)


def test_multipart_upload_of_a_large_cog(s3_settings, s3_server, bucket):
    """Above boto3's 8 MB threshold the upload is multipart: still one whole object, checksum intact."""
    store = open_store(s3_settings)
    data = np.random.default_rng(7).integers(0, 255, 20 * 1024 * 1024, dtype=np.uint8).tobytes()
    local = store.tmp_dir / "big.tif"
    local.write_bytes(data)
    seen: list[int] = []
    store.put(local, f"{COLLECTION}/big.tif", progress=seen.append)
    assert sum(seen) == len(data)
    etag = objects(s3_server, bucket)[f"{PREFIX}/{COLLECTION}/big.tif"][1]
    assert "-" in etag  # a multipart ETag: no MD5 of the content, hence the SHA-256 read back
    assert store.size(f"{COLLECTION}/big.tif") == len(data) and store.sha256(f"{COLLECTION}/big.tif") == _sha(data)


@pytest.mark.parametrize("wrong", ["secret_key", "bucket", "endpoint", "no_bucket"])
def test_a_store_that_cannot_be_used_is_named_before_any_work(wrong, engine, s3_settings, s3_server, bucket,
                                                              tmp_path):
    """Wrong keys, a missing bucket, an unreachable endpoint: ``sdi ingest`` stops at once with a
    precise message (exit 1) and leaves the catalogue, the bucket and the work area as they were."""
    changes, expected = {
        "secret_key": ({"s3_secret_key": "not-the-secret"}, "SignatureDoesNotMatch"),
        "bucket": ({"raster_store": f"s3://{bucket}-khong-co/{PREFIX}"}, "NoSuchBucket"),
        "endpoint": ({"s3_endpoint_url": f"http://127.0.0.1:{free_port()}"}, "Could not connect"),
        "no_bucket": ({"raster_store": "s3://"}, "names no bucket"),
    }[wrong]
    bad = s3_settings.model_copy(update=changes)
    with pytest.raises(StoreError) as caught:
        open_store(bad)
    assert expected in caught.value.detail and " / " in caught.value.detail and caught.value.status == 503
    s3_server.client().put_object(Bucket=bucket, Key=f"{PREFIX}/{COLLECTION}/earlier.tif", Body=b"II*\x00")
    before = objects(s3_server, bucket)
    src = rasters.uav_rgb(tmp_path / "a.tif", width=300, height=300, seed=44)
    result = run_sdi(bad, "ingest", str(src), "-c", COLLECTION, "-t", "2026-03-15", **sdi_env(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Kho ảnh không sẵn sàng / Raster store unavailable" in result.stderr and expected in result.stderr
    assert _rows(engine, _sha(src.read_bytes())) == []
    assert objects(s3_server, bucket) == before and not _tmp_files(bad)
