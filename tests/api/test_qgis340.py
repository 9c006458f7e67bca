"""QGIS 3.40 LTR (Debian 13) against the real server: server-side filters, Part 4 editing, and every public
collection read as QGIS 3.22 reads it (tests/qgis/qgis_load.py).

QGIS 3.40 runs in the Debian 13 root that ``scripts/qgis340-root.sh`` builds under ``.sdi/qgis340``
(``make test`` builds it), entered with ``chroot`` in a private mount namespace (``unshare --mount``:
``/proc`` and the test's directory mounted there vanish with the process). The network is the host's,
so QGIS reaches the test server on 127.0.0.1. The server of this module writes uvicorn's access log
as JSON lines (``SDI_LOG_FORMAT=json``, one request id each): what QGIS asked for is read from the
server's own log, not from QGIS. Skipped, with the reason, when the root is missing or not usable
(not root, no ``unshare``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from layers.catalog import load_catalog
from tests.api.publishing import gpkg_of, post_layer
from tests.conftest import LiveServer, start_server, stop_server

REPO = Path(__file__).resolve().parents[2]
ROOT = Path(os.environ.get("SDI_QGIS340_DIR", REPO / ".sdi" / "qgis340")) / "root"
STAMP = ROOT / ".sdi-qgis340-complete"
DRIVER = REPO / "tests" / "qgis" / "qgis_oapif.py"
LOADER = REPO / "tests" / "qgis" / "qgis_load.py"  # the QGIS 3.22 tests' helper, run here by 3.40
#: Where the driver puts the new and the moved feature (tests/qgis/qgis_oapif.py).
NEW_POINT, MOVED_POINT = (106.7123, 21.9012), (106.7234, 21.9123)
_ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[0-9.]+" (?P<status>\d{3})')


@pytest.fixture(scope="module")
def qgis340(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The QGIS version inside the Debian 13 root; skip when the root is missing or cannot be entered."""
    if not STAMP.exists():
        pytest.skip(f"no QGIS 3.40 root at {ROOT}: run scripts/qgis340-root.sh (as root; `make test` does)")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("entering the QGIS 3.40 root needs root and unshare (util-linux)")
    work = tmp_path_factory.mktemp("qgis340-check")
    proc = run_in_root(work, "python3", "-c", "from qgis.core import Qgis; print(Qgis.version())")
    if proc.returncode != 0:
        pytest.skip(f"QGIS 3.40 root not usable: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip().splitlines()[-1]


def run_in_root(work: Path, *command: str, key: str | None = None) -> subprocess.CompletedProcess:
    """``command`` inside the root, ``work`` mounted at ``/sdi``, headless, a throw-away HOME there."""
    (ROOT / "sdi").mkdir(exist_ok=True)
    (work / "run").mkdir(mode=0o700, exist_ok=True)
    env = ["PATH=/usr/bin:/bin", "HOME=/sdi", "XDG_RUNTIME_DIR=/sdi/run", "LANG=C.UTF-8", "QT_QPA_PLATFORM=offscreen",
           *([f"SDI_QGIS_KEY={key}"] if key else [])]
    # sh's positional parameters carry the paths and the command: nothing is pasted into the script
    script = 'mount -t proc proc "$1/proc" && mount --bind "$2" "$1/sdi" && r="$1" && shift 2 && exec chroot "$r" "$@"'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(ROOT),
                           str(work), "env", "-i", *env, *command], capture_output=True, text=True, timeout=180)


def run_driver(work: Path, *args: str, key: str | None = None) -> dict:
    """The driver in a fresh HOME under ``work`` (QGIS's network cache in a used one could answer for the server)."""
    work = Path(tempfile.mkdtemp(dir=work))
    shutil.copy(DRIVER, work / DRIVER.name)
    out = work / "result.json"
    out.unlink(missing_ok=True)
    proc = run_in_root(work, "python3", f"/sdi/{DRIVER.name}", *args, "--out", "/sdi/result.json", key=key)
    assert proc.returncode == 0, f"QGIS 3.40 driver failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def logged_server(settings, seeded):
    """A real server whose access log (JSON, INFO) the tests read."""
    server = start_server(settings, {"SDI_LOG_LEVEL": "INFO", "SDI_LOG_FORMAT": "json"})
    yield server
    stop_server(server)


def requests_since(server: LiveServer, offset: int) -> list[dict]:
    """The requests the server logged after ``offset`` characters of its log: method, target, status, id."""
    found = []
    for line in server.output()[offset:].splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("logger") == "uvicorn.access" and (m := _ACCESS.search(record.get("message", ""))):
            found.append({**m.groupdict(), "status": int(m["status"]), "request_id": record.get("request_id")})
    return found


def publish(server: LiveServer, key: str, layer_id: str, tmp_path: Path, made: list[str], access: str) -> None:
    """A point layer of the key's agency: ``ten_cay`` Nghiến 0…3 (fid 1…4), ``tuoi`` 100…103."""
    made.append(layer_id)
    r = post_layer(server.url, gpkg_of(tmp_path / f"{layer_id}.gpkg"), f"{layer_id}.gpkg", key, id=layer_id,
                   title_vi="Cây thử QGIS", title_en="QGIS test trees", access=access)
    assert r.status_code == 201, r.text


def rows(engine, layer_id: str) -> dict[int, tuple]:
    """The layer's rows in PostGIS: fid → (name, age, lon, lat)."""
    table = load_catalog(engine)[layer_id].sa_table
    with engine.connect() as conn:
        result = conn.execute(select(table.c.fid, table.c.ten_cay, table.c.tuoi, func.ST_X(table.c.geom),
                                     func.ST_Y(table.c.geom)))
        return {r[0]: (r[1], r[2], round(r[3], 6), round(r[4], 6)) for r in result}


def test_qgis340_sends_an_expression_filter_to_the_server(qgis340, logged_server, keys, engine, tmp_path, made):
    assert qgis340.startswith("3.40.")
    # an internal layer of the planners, read by another agency with its key (a Basic configuration)
    publish(logged_server, keys["planner"], "qgis340_loc", tmp_path, made, "internal")
    offset = len(logged_server.output())
    got = run_driver(tmp_path, "filter", logged_server.url + "/ogc", "qgis340_loc", "--field", "ten_cay",
                     '"tuoi" >= 102 AND "ten_cay" <> \'Nghiến 3\'', key=keys["ranger"])
    assert got["subset_accepted"]
    assert got["values"] == ["Nghiến 2"]  # only the matching feature
    items = [r for r in requests_since(logged_server, offset)
             if r["method"] == "GET" and r["target"].startswith("/ogc/collections/qgis340_loc/items")]
    filtered = [r for r in items if "filter=" in r["target"]]
    assert filtered, f"QGIS 3.40 sent no filter= to the server: {items}"
    assert all(r["status"] == 200 and r["request_id"] for r in filtered)
    assert "filter-lang=cql2-text" in filtered[0]["target"] and "tuoi" in filtered[0]["target"]
    # without the key the internal layer is not there for QGIS (so the key above was sent)
    fresh = Path(tempfile.mkdtemp(dir=tmp_path))
    shutil.copy(DRIVER, fresh / DRIVER.name)
    anonymous = run_in_root(fresh, "python3", f"/sdi/{DRIVER.name}", "filter", logged_server.url + "/ogc",
                            "qgis340_loc", "--field", "ten_cay", "--out", "/sdi/anonymous.json", '"tuoi" >= 102')
    assert anonymous.returncode != 0 and "layer not valid" in anonymous.stderr
    # what QGIS asked for is what the server answers with that filter: the one matching feature
    target = filtered[0]["target"]
    direct = httpx.get(logged_server.url + target, headers={"X-API-Key": keys["ranger"]}, timeout=30).json()
    assert [f["properties"]["ten_cay"] for f in direct["features"]] == ["Nghiến 2"]


def test_qgis340_edits_through_part4_with_the_owners_key_only(qgis340, logged_server, keys, engine, tmp_path, made):
    publish(logged_server, keys["planner"], "qgis340_edit", tmp_path, made, "public")
    before = rows(engine, "qgis340_edit")
    assert [v[0] for _, v in sorted(before.items())] == [f"Nghiến {i}" for i in range(4)]
    edits = ("--field", "ten_cay", "--add", "Nghiến mới", "--move", "Nghiến 0", "--change", "Nghiến 1:Nghiến đổi",
             "--delete", "Nghiến 2")
    ogc = logged_server.url + "/ogc"

    # another agency (the rangers) may read the public layer but edit nothing: the server's OPTIONS says so,
    # QGIS 3.40 keeps the layer read-only and sends no write; the same writes sent anyway are 403
    offset = len(logged_server.output())
    other = run_driver(tmp_path, "edit", ogc, "qgis340_edit", *edits, key=keys["ranger"])
    assert other["capabilities"] == [] and not any(step["saved"] for step in other["steps"])
    assert not [r for r in requests_since(logged_server, offset) if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]
    assert rows(engine, "qgis340_edit") == before

    # the owner agency: each edit saved by its own Part 4 request, seen in the server's log
    offset = len(logged_server.output())
    owner = run_driver(tmp_path, "edit", ogc, "qgis340_edit", *edits, key=keys["planner"])
    assert owner["capabilities"] == ["add", "change_attributes", "change_geometries", "delete"]
    assert [(s["step"], s["saved"]) for s in owner["steps"]] == [
        ("add", True), ("move", True), ("change", True), ("delete", True)], owner["steps"]
    writes = [(r["method"], r["target"], r["status"]) for r in requests_since(logged_server, offset)
              if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]
    items = "/ogc/collections/qgis340_edit/items"
    assert writes[0] == ("POST", items, 201)
    assert {w[:2] for w in writes[1:]} == {("PUT", f"{items}/1"), ("PUT", f"{items}/2"), ("DELETE", f"{items}/3")}
    assert len(writes) == 4 and all(200 <= w[2] < 300 for w in writes)
    after = rows(engine, "qgis340_edit")
    assert set(after) == {1, 2, 4, 5}  # 3 deleted, 5 added
    assert after[5][0] == "Nghiến mới" and after[5][2:] == NEW_POINT
    assert after[1][:2] == before[1][:2] and after[1][2:] == MOVED_POINT
    assert after[2] == ("Nghiến đổi", *before[2][1:])
    assert after[4] == before[4]

    # the requests QGIS sent, sent again with the other agency's key: refused, nothing changes
    headers = {"X-API-Key": keys["ranger"], "Content-Type": "application/geo+json"}
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(MOVED_POINT)},
               "properties": {"ten_cay": "Nghiến lạ"}}
    for method, target, _ in writes:
        r = httpx.request(method, logged_server.url + target.replace("/items/3", "/items/4"), headers=headers,
                          json=None if method == "DELETE" else feature, timeout=30)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", (method, r.text)
        assert "cơ quan chủ quản" in r.json()["detail"]
    assert rows(engine, "qgis340_edit") == after


def test_qgis340_reads_every_public_collection(qgis340, live_server, catalog, engine, tmp_path):
    # the same reading as QGIS 3.22's in test_qgis.py, by the same helper, in QGIS 3.40
    ids = sorted(i for i, layer in catalog.items() if layer.access_level == "public")
    shutil.copy(LOADER, tmp_path / LOADER.name)
    proc = run_in_root(tmp_path, "python3", f"/sdi/{LOADER.name}", "collections", live_server.url + "/ogc", *ids,
                       "--out", "/sdi/collections.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "collections.json").read_text(encoding="utf-8"))
    for lid in ids:
        got, layer = result[lid], catalog[lid]
        assert got["valid"], f"{lid}: {got.get('error')}"
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(layer.sa_table)).scalar_one()
        assert len(got["features"]) == got["feature_count"] == count, lid
    names = {f["attrs"]["name"] for f in result["admin_units"]["features"]}
    assert {"Đồng Đăng", "Lạng Sơn", "Hữu Lũng"} <= names  # Vietnamese text intact
