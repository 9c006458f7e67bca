"""Harvest against a second real OGC server: pygeoapi in its own process (``tests.layers.harvest_peer``).

add → layers in the catalogue, read back by GDAL's OAPIF driver from our own live server; the source
changes → run → the copy follows; the source down → the previous copy stays and the error is recorded;
bad sources → a clear Vietnamese + English refusal and nothing created.
"""

from __future__ import annotations

import json
import re
import time

import pyogrio
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from layers.catalog import load_catalog
from layers.harvest import add_source, list_sources, remove_source, run_due, run_source
from sdi.cli import app
from sdi.errors import ConflictError, InvalidInputError, NotFoundError
from tests.layers.harvest_peer import SITES, forget_harvests, start_peer

SOURCE = "peer"
LAYER = "hv_peer_diem_du_lich"


@pytest.fixture()
def allowed(settings):
    """The test settings with loopback allowed (the peer runs on 127.0.0.1)."""
    return settings.model_copy(update={"harvest_allow_hosts": ["127.0.0.1"]})


@pytest.fixture()
def peer(tmp_path):
    server = start_peer(tmp_path)
    yield server
    server.stop()


@pytest.fixture()
def cleanup(engine):
    yield
    forget_harvests(engine)


def names(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text(f"SELECT ten FROM published.{LAYER}")).scalars())  # noqa: S608 — a constant


def state(engine) -> tuple:
    """Everything a refused harvest must leave as it was: sources, layers, published tables."""
    with engine.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM harvest_sources")).scalar_one(),
                tuple(conn.execute(text("SELECT id FROM layers ORDER BY id")).scalars()),
                tuple(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'published' "
                                        "ORDER BY 1")).scalars()))


def test_add_run_follow_and_source_down(engine, seeded, allowed, peer, cleanup, live_server):
    source = add_source(engine, allowed, peer.url, agency="skhcn", access_level="public",
                        every="1d", source_id=SOURCE)
    assert source["kind"] == "oapif" and source["layers"] == {"diem_du_lich": LAYER}
    layer = load_catalog(engine)[LAYER]
    assert layer.owner == "skhcn" and layer.access_level == "public" and layer.title_vi == "Điểm du lịch"
    assert peer.url in (layer.lineage or "") and "UTC" in (layer.lineage or "")
    assert layer.feature_count == len(SITES)  # pygeoapi pages by 2: GDAL followed every page
    assert names(engine) == {name for _, name, _, _ in SITES}
    assert source["next_due"] is not None and source["last_error"] is None

    # served by our own live server to a real client (GDAL's OAPIF driver), within a second of the add
    deadline = time.monotonic() + 5
    while True:
        try:
            served = pyogrio.read_dataframe(f"OAPIF:{live_server.url}/ogc", layer=LAYER)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    assert sorted(served["ten"]) == sorted(name for _, name, _, _ in SITES)

    # the other agency removes one site and adds one: the copy follows, the lineage has the new time
    changed = [*SITES[:-1], ("ls_06", "Núi Mẫu Sơn", 106.9600, 21.8500)]
    peer.publish(changed)
    before = layer.lineage
    time.sleep(1.1)
    source = run_source(engine, allowed, SOURCE)
    assert source["last_error"] is None and source["status"]["diem_du_lich"]["ok"]
    assert names(engine) == {name for _, name, _, _ in changed}
    assert load_catalog(engine)[LAYER].lineage != before

    # the source goes down: the previous copy stays served, the error is recorded and says so
    peer.stop()
    kept = names(engine)
    source = run_source(engine, allowed, SOURCE)
    assert names(engine) == kept
    assert "Không đọc được nguồn / could not read 'diem_du_lich'" in source["last_error"]
    assert source["status"]["diem_du_lich"]["ok"] is False
    listed = {s["id"]: s for s in list_sources(engine)}
    assert listed[SOURCE]["last_error"] == source["last_error"]

    # --due: nothing is due a day ahead; made due, it runs (and records the same failure)
    assert run_due(engine, allowed) == []
    with engine.begin() as conn:
        conn.execute(text("UPDATE harvest_sources SET next_due = now() - interval '1 minute'"))
    assert [s["id"] for s in run_due(engine, allowed)] == [SOURCE]

    with pytest.raises(ConflictError, match="đã đăng ký / a source"):
        add_source(engine, allowed, peer.url, agency="skhcn", source_id=SOURCE)
    assert remove_source(engine, SOURCE) == [LAYER]
    assert LAYER not in load_catalog(engine) and list_sources(engine) == []
    with pytest.raises(NotFoundError):
        run_source(engine, allowed, SOURCE)


@pytest.mark.parametrize(("url", "message"), [
    ("not a url", "is not an http(s) URL"),
    ("ftp://example.org/ogc", "is not an http(s) URL"),
    ("http://10.1.2.3/ogc", "private or loopback address (10.1.2.3)"),
    ("http://[::1]:9/ogc", "private or loopback address (::1)"),
    ("http://localhost:9/ogc", "private or loopback address"),
])
def test_unsafe_urls_refused(engine, seeded, allowed, url, message, cleanup):
    before = state(engine)
    with pytest.raises(InvalidInputError, match=re.escape(message)) as refused:
        add_source(engine, allowed, url, agency="skhcn")
    assert " / " in refused.value.detail  # Vietnamese, then English
    assert state(engine) == before


def test_loopback_needs_the_allow_list(engine, seeded, settings, peer, cleanup):
    before = state(engine)
    with pytest.raises(InvalidInputError, match="Địa chỉ nội bộ bị từ chối / .* SDI_HARVEST_ALLOW_HOSTS"):
        add_source(engine, settings, peer.url, agency="skhcn")
    assert state(engine) == before


def test_not_ogc_and_unknown_collection_refused(engine, seeded, allowed, peer, live_server, cleanup):
    before = state(engine)
    with pytest.raises(InvalidInputError, match="Không phải dịch vụ OGC API Features hay WFS 2.0 / "):
        add_source(engine, allowed, f"{live_server.url}/health", agency="skhcn")
    with pytest.raises(InvalidInputError, match="Không có bộ sưu tập / no collection 'song_ngoi'.*diem_du_lich"):
        add_source(engine, allowed, peer.url, agency="skhcn", collections=["diem_du_lich", "song_ngoi"])
    with pytest.raises(InvalidInputError, match="Cơ quan không rõ / unknown agency"):
        add_source(engine, allowed, peer.url, agency="khong_co")
    with pytest.raises(InvalidInputError, match="Chu kỳ không hợp lệ / 'soon'"):
        add_source(engine, allowed, peer.url, agency="skhcn", every="soon")
    assert state(engine) == before


def test_features_outside_the_province_refused_and_nothing_created(engine, seeded, allowed, peer, cleanup):
    peer.publish([("hn", "Hồ Gươm (Hà Nội)", 105.8524, 21.0287)])  # far outside Lạng Sơn
    before = state(engine)
    with pytest.raises(Exception, match="(?i)province|tỉnh"):
        add_source(engine, allowed, peer.url, agency="skhcn")
    assert state(engine) == before


def test_cli_add_list_run_remove(settings, seeded, engine, peer, cleanup):
    runner = CliRunner()
    env = {"SDI_DATABASE_URL": settings.database_url, "SDI_HARVEST_ALLOW_HOSTS": '["127.0.0.1"]', "COLUMNS": "250"}
    refused = runner.invoke(app, ["harvest", "add", peer.url, "--agency", "skhcn"],
                            env={**env, "SDI_HARVEST_ALLOW_HOSTS": "[]"})
    assert refused.exit_code != 0 and "SDI_HARVEST_ALLOW_HOSTS" in str(refused.exception)
    added = runner.invoke(app, ["harvest", "add", peer.url, "--agency", "skhcn", "--id", "peer",
                                "--collections", "diem_du_lich", "--every", "1d"], env=env)
    assert added.exit_code == 0, added.output
    assert LAYER in added.output
    listed = json.loads(runner.invoke(app, ["harvest", "list", "--json"], env=env).output)
    assert [(s["id"], s["every_s"]) for s in listed] == [("peer", 86400)]
    assert runner.invoke(app, ["harvest", "run", "peer"], env=env).exit_code == 0
    peer.stop()
    down = runner.invoke(app, ["harvest", "run", "--due"], env=env)
    assert down.exit_code == 0 and "peer" not in down.output  # not due for a day: not run
    failed = runner.invoke(app, ["harvest", "run", "peer"], env=env)
    assert failed.exit_code == 1 and "could not read" in failed.output
    assert names(engine) == {name for _, name, _, _ in SITES}
    removed = runner.invoke(app, ["harvest", "remove", "peer"], env=env)
    assert removed.exit_code == 0 and LAYER in removed.output
