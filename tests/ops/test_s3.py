"""The backup of a local-store installation restored into an S3 bucket (a real SeaweedFS server), backed up
again from there: the same COG bytes each way; a bucket that holds COGs is refused as a restore target."""

from __future__ import annotations

from pathlib import Path

from ops import manifest as mf
from tests.ops.conftest import checksums
from tests.s3 import server as weed
from tests.s3.conftest import bucket, s3_server  # noqa: F401 - the session's S3 server, a new bucket
from tests.s3.helpers import objects
from tests.uav_ingest.helpers import run_sdi


def _env(server, bucket_name: str, state: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"SDI_RASTER_STORE": f"s3://{bucket_name}/cogs", "SDI_S3_ENDPOINT_URL": server.endpoint,
            "SDI_S3_ACCESS_KEY": server.access_key, "SDI_S3_SECRET_KEY": server.secret_key,
            "SDI_S3_REGION": weed.REGION, "SDI_STATE_DIR": str(state)}


def test_local_backup_into_s3_and_back(source, new_installation, s3_server, bucket, tmp_path):  # noqa: F811
    target = new_installation("s3")
    env = _env(s3_server, bucket, tmp_path / "state")
    restored = run_sdi(target.settings, "restore", str(source.backup), **env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    cogs = mf.read(source.backup).cogs
    assert set(objects(s3_server, bucket)) == {f"cogs/{c['key']}" for c in cogs}
    client = s3_server.client()
    for cog in cogs:
        body = client.get_object(Bucket=bucket, Key=f"cogs/{cog['key']}")["Body"].read()
        assert body == (source.store / cog["key"]).read_bytes()
    assert checksums(target.engine) == source.tables

    again = tmp_path / "from-s3"
    backed_up = run_sdi(target.settings, "backup", str(again), **env)
    assert backed_up.returncode == 0, backed_up.stdout + backed_up.stderr
    for cog in cogs:
        assert (again / mf.COGS / cog["key"]).read_bytes() == (source.store / cog["key"]).read_bytes()
    settings_json = (again / mf.SETTINGS).read_text()
    assert s3_server.secret_key not in settings_json and s3_server.access_key not in settings_json
    assert f"s3://{bucket}/cogs" in settings_json

    other = new_installation("s3b")  # an empty database, but the bucket now holds COGs
    refused = run_sdi(other.settings, "restore", str(source.backup), **env)
    assert refused.returncode == 2 and "COG(s)" in " ".join(refused.stderr.split()), refused.stderr
    assert checksums(other.engine) == {}
