"""A second, plain OGC API Features server for the harvest tests: pygeoapi (its Starlette app under
uvicorn, in its own process and port) serving a GeoJSON file the test writes and rewrites.

pygeoapi's GeoJSON provider reads its file on every request, so a test changes "the other agency's
data" by rewriting the file, and takes the service down by stopping the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from sqlalchemy import Engine, text

from tests.conftest import free_port

#: points inside Lạng Sơn (city centre, Đồng Đăng, Chi Lăng, Bắc Sơn), with Vietnamese names
SITES = [
    ("ls_01", "Chợ Đông Kinh", 106.7610, 21.8470),
    ("ls_02", "Động Tam Thanh", 106.7480, 21.8600),
    ("ls_03", "Ga Đồng Đăng", 106.7030, 21.9500),
    ("ls_04", "Ải Chi Lăng", 106.5690, 21.6710),
    ("ls_05", "Thung lũng Bắc Sơn", 106.3190, 21.9010),
]


def feature_collection(sites: list[tuple[str, str, float, float]]) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": code, "properties": {"ma": code, "ten": name},
         "geometry": {"type": "Point", "coordinates": [lon, lat]}} for code, name, lon, lat in sites]}


@dataclass
class Peer:
    """The other agency's server: its URL, its data file and its process."""

    url: str
    data: Path
    proc: subprocess.Popen
    log: Path

    def publish(self, sites: list[tuple[str, str, float, float]]) -> None:
        self.data.write_text(json.dumps(feature_collection(sites), ensure_ascii=False), encoding="utf-8")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def start_peer(folder: Path, sites: list[tuple[str, str, float, float]] = SITES) -> Peer:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = folder / "diem_du_lich.geojson"
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": url, "mimetype": "application/json",
                   "encoding": "utf-8", "language": "en-US", "pretty_print": False, "limits": {"default_items": 2,
                                                                                             "max_items": 2},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "Sở Du lịch (thử) / tourism (test)", "description": "peer",
                                        "keywords": ["test"], "keywords_type": "theme", "terms_of_service": "",
                                        "url": url},
                     "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
                     "provider": {"name": "test", "url": url},
                     "contact": {"name": "test", "position": "test", "address": "", "city": "Lạng Sơn",
                                 "stateorprovince": "", "postalcode": "", "country": "VN", "phone": "", "fax": "",
                                 "email": "test@example.org", "url": url, "hours": "", "instructions": "",
                                 "role": "pointOfContact"}},
        "resources": {"diem_du_lich": {
            "type": "collection", "title": "Điểm du lịch", "description": "Điểm du lịch của tỉnh (thử)",
            "keywords": ["du lịch"], "links": [],
            "extents": {"spatial": {"bbox": [106.0, 21.3, 107.4, 22.5],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "GeoJSON", "data": str(data), "id_field": "ma"}]}},
    }
    (folder / "config.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    (folder / "openapi.json").write_text("{}", encoding="utf-8")
    log = folder / "peer.log"
    env = {**os.environ, "PYGEOAPI_CONFIG": str(folder / "config.yml"),
           "PYGEOAPI_OPENAPI": str(folder / "openapi.json")}  # a JSON document is served as it is: "{}" will do
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "pygeoapi.starlette_app:APP", "--host", "127.0.0.1",
                                 "--port", str(port), "--log-level", "warning"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=folder)
    peer = Peer(url, data, proc, log)
    peer.publish(sites)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/collections?f=json", timeout=2).status_code == 200:
                return peer
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            peer.stop()
            raise RuntimeError(f"pygeoapi did not start: {log.read_text(errors='replace')}")
        time.sleep(0.3)


def forget_harvests(engine: Engine) -> None:
    """Remove every source and every ``hv_`` layer the tests made (published, and in the trash)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM harvest_sources"))
        conn.execute(text("DELETE FROM layers WHERE id LIKE 'hv\\_%'"))
        conn.execute(text("DELETE FROM layer_trash WHERE layer_id LIKE 'hv\\_%'"))
        for schema, table in conn.execute(text("SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN "
                                                "('published', 'trash') AND tablename LIKE 'hv\\_%'")):
            conn.execute(text(f'DROP TABLE "{schema}"."{table}"'))  # names from pg_tables, hv_ only
