"""``sdi backup`` of a running installation, ``sdi restore`` into a fresh one: the same rows, the same COG
bytes, the same STAC items, served by a server started on the restored database and store."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from sqlalchemy import select

from ops import manifest as mf
from ops.backup import public_settings
from sdi.models import RasterItem
from tests.conftest import start_server, stop_server
from tests.ops.conftest import checksums
from tests.uav_ingest.helpers import run_sdi


@pytest.fixture(scope="module")
def restored(source, new_installation):  # type: ignore[no-untyped-def]
    inst = new_installation("dst")
    result = run_sdi(inst.settings, "restore", str(source.backup), SDI_RASTER_STORE=str(inst.store))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Đã khôi phục / restored" in result.stdout
    return inst


def _items(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(RasterItem.id, RasterItem.href, RasterItem.cog_sha256, RasterItem.stac,
                                   RasterItem.status)).all()
    return {r.id: tuple(r) for r in rows}


def test_the_backup_holds_every_table_cog_and_item(source):
    manifest = mf.read(source.backup)
    assert {name: count for name, (count, _) in source.tables.items()} == manifest.tables
    assert manifest.tables["public.forest_plots"] > 1000 and manifest.tables["public.api_keys"] == 1
    assert sorted(c["item"] for c in manifest.cogs) == sorted(source.items)
    for cog in manifest.cogs:
        copied = source.backup / mf.COGS / cog["key"]
        assert copied.read_bytes() == (source.store / cog["key"]).read_bytes()
    assert manifest.stac_items == 3 and len(list((source.backup / mf.STAC).rglob("*.json"))) == 3
    result = run_sdi(source.settings, "backup", "--verify", str(source.backup))
    assert result.returncode == 0 and "backup OK" in result.stdout, result.stdout + result.stderr


def test_the_settings_keep_no_secret(source):
    written = (source.backup / mf.SETTINGS).read_text()
    password = source.engine.url.password
    assert password and password not in written
    assert json.loads(written)["raster_store"] == str(source.store)
    s3 = source.settings.model_copy(update={"s3_access_key": "AKIA-visible-nowhere", "s3_secret_key": "s3cr3t-x",
                                            "public_url": "https://ops:hunter2@sdi.langson.gov.vn/"})
    text = json.dumps(public_settings(s3))
    for secret in ("AKIA-visible-nowhere", "s3cr3t-x", "hunter2", password):
        assert secret not in text
    assert "sdi.langson.gov.vn" in text


def test_restored_rows_are_identical(source, restored):
    assert checksums(restored.engine) == source.tables


def test_restored_cogs_and_stac_items_are_identical(source, restored):
    before, after = _items(source.engine), _items(restored.engine)
    assert before == after and len(after) == 3
    for item_id, href, sha, stac, status in after.values():
        assert status == "ready"
        data = (restored.store / href).read_bytes()
        assert data == (source.store / href).read_bytes() and hashlib.sha256(data).hexdigest() == sha
        exported = json.loads((source.backup / mf.STAC / stac["collection"] / f"{item_id}.json").read_text())
        assert exported == {**stac, "id": item_id, "collection": stac["collection"]}
    assert sorted(p.relative_to(restored.store).as_posix() for p in restored.store.rglob("*.tif")) == \
        sorted(r[1] for r in after.values())


def test_a_server_on_the_restored_installation_serves_the_same(source, restored):
    server = start_server(restored.settings)
    try:
        headers = {"X-API-Key": source.key}  # the key's digest came back with the database
        for path in ("/layers", "/ogc/collections/admin_units/items?limit=200",
                     "/ogc/collections/forest_plots/items?limit=500", "/stac/search?limit=100"):
            a = httpx.get(source.server.url + path, headers=headers, timeout=60)
            b = httpx.get(server.url + path, headers=headers, timeout=60)
            assert a.status_code == b.status_code == 200, (path, b.text[:300])
            assert _without_links(a.json()) == _without_links(b.json()), path
        found = httpx.get(f"{server.url}/stac/search?limit=100", headers=headers, timeout=30).json()["features"]
        assert sorted(f["id"] for f in found) == sorted(source.items)
        for item_id, href, _, _, _ in _items(restored.engine).values():
            cog = httpx.get(f"{server.url}/rasters/{item_id}/cog.tif", headers=headers, timeout=30)
            assert cog.status_code == 200 and cog.content == (source.store / href).read_bytes()
            tile = httpx.get(f"{server.url}/rasters/{item_id}/preview.png?max_size=64", headers=headers, timeout=30)
            assert tile.status_code == 200 and tile.content.startswith(b"\x89PNG")
        # the internal uav_rgb flight stays invisible without the key, as before the backup
        anonymous = httpx.get(f"{server.url}/stac/search?limit=100", timeout=30).json()["features"]
        assert len(anonymous) == 1 and anonymous[0]["collection"] == "dem"
    finally:
        stop_server(server)


def _without_links(body):  # type: ignore[no-untyped-def]
    """A response without what names the server (links, timestamps of the answer)."""
    if isinstance(body, dict):
        return {k: _without_links(v) for k, v in body.items() if k not in ("links", "timeStamp", "href")}
    if isinstance(body, list):
        return [_without_links(v) for v in body]
    return body
