"""The embedded cluster: initialise, start, survive a restart, stop — in a scratch folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from sdi.cluster import Cluster, find_pg_bin
from sdi.errors import ClusterError
from sdi.settings import Settings


@pytest.fixture()
def scratch():
    # Not pytest's tmp_path: that is private (0700) and, when tests run as root, the server
    # account could not reach it.
    root = Path(tempfile.mkdtemp(prefix="sdi-cluster-"))
    root.chmod(0o755)
    cluster = Cluster(Settings(state_dir=root / ".sdi", pg_port=56_543, database_url=None))
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


def _query(cluster: Cluster, sql: str):
    url = cluster.info().url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchone()[0]


def test_initialise_start_restart_stop(scratch):
    assert not scratch.initialised and not scratch.running()
    info = scratch.ensure_running()
    assert scratch.running() and (scratch.root / "cluster.json").stat().st_mode & 0o077 == 0
    assert _query(scratch, "SELECT current_database()") == "sdi"
    # a second call neither re-initialises nor changes the password
    assert scratch.ensure_running() == info
    with psycopg.connect(info.url().replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    assert scratch.stop() and not scratch.running()
    assert scratch.stop() is False
    scratch.ensure_running()  # data survive a restart
    assert _query(scratch, "SELECT x FROM kept") == 42


def test_password_is_required(scratch):
    info = scratch.ensure_running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://sdi:wrong@127.0.0.1:{info.port}/sdi")


def test_pg_bin_found_with_postgis():
    assert (find_pg_bin(Settings()) / "initdb").exists()


def test_missing_cluster_info_is_a_clear_error(tmp_path):
    with pytest.raises(ClusterError, match="sdi db start"):
        Cluster(Settings(state_dir=tmp_path / "none", database_url=None)).info()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to the postgres account")
def test_unreachable_folder_is_a_clear_error(tmp_path):
    tmp_path.chmod(0o700)
    with pytest.raises(ClusterError, match="cannot reach"):
        Cluster(Settings(state_dir=tmp_path / ".sdi", database_url=None)).ensure_running()
