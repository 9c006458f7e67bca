"""``sdi restore`` into a brand-new embedded installation (the cluster is created by the restore itself, its
own pg_restore used), then ``sdi backup`` of it with the cluster's own pg_dump."""

from __future__ import annotations

import shutil

from ops import manifest as mf
from sdi.cluster import Cluster
from sdi.database import make_engine
from sdi.settings import PROJECT_ROOT, Settings
from tests.conftest import free_port
from tests.ops.conftest import RUN, checksums
from tests.uav_ingest.helpers import run_sdi


def test_restore_into_a_new_embedded_cluster_and_back_up_from_it(source, tmp_path):
    # under the project's .sdi/, like the real one: when the tests run as root the server runs as
    # `postgres`, which cannot enter pytest's private temporary folders
    state = PROJECT_ROOT / ".sdi" / f"ops-test-{RUN}"
    env = {"SDI_DATABASE_URL": "", "SDI_STATE_DIR": str(state), "SDI_PG_PORT": str(free_port()),
           "SDI_RASTER_STORE": str(tmp_path / "store")}
    embedded = Settings(database_url=None, state_dir=state, raster_store=env["SDI_RASTER_STORE"])
    try:
        restored = run_sdi(source.settings, "restore", str(source.backup), **env)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert Cluster(embedded).running()
        engine = make_engine(embedded)
        try:
            assert checksums(engine) == source.tables
        finally:
            engine.dispose()
        again = run_sdi(source.settings, "backup", str(tmp_path / "again"), **env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert mf.read(tmp_path / "again").tables == mf.read(source.backup).tables
        checked = run_sdi(source.settings, "backup", "--verify", str(tmp_path / "again"), **env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        Cluster(embedded).stop()
        shutil.rmtree(state, ignore_errors=True)
