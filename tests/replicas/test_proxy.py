"""deploy/nginx.conf for real: nginx (Debian's ``nginx-light``; skipped, with the reason, without it — ``make test``
does not install it, since the package starts a web server on port 80 on a machine with systemd) in front of two
``sdi serve`` replicas spreads requests over both, and when one stops the other answers every request.
Only the upstream addresses, the port and the paths nginx writes to differ from the file in the
repository (``docker-compose.yml`` mounts it as it is)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, stop_server

ROOT = Path(__file__).resolve().parents[2]


def _config(folder: Path, port: int, upstreams: list[str]) -> Path:
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server app1:8000" in text and "server app2:8000" in text and "listen 8000;" in text
    text = text.replace("server app1:8000", f"server {upstreams[0]}").replace("server app2:8000",
                                                                              f"server {upstreams[1]}")
    text = text.replace("listen 8000;", f"listen 127.0.0.1:{port};")
    text = text.replace("worker_processes auto;", "worker_processes 1;")  # a shared test machine
    # what nginx writes goes to the test's folder; the access log names the replica that answered
    text = text.replace("http {", "http {\n" + "\n".join(
        [f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")]
        + ["    log_format replica '$upstream_addr $status';", f"    access_log {folder / 'access.log'} replica;"]), 1)
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


@pytest.fixture()
def proxy(replicas, tmp_path):  # type: ignore[no-untyped-def]
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None)
    if nginx is None:
        pytest.skip("nginx is not installed (Debian: nginx-light)")
    port = free_port()
    upstreams = [r.url.removeprefix("http://") for r in (replicas.a, replicas.b)]
    conf = _config(tmp_path, port, upstreams)
    proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf), "-g",
                             f"daemon off; pid {tmp_path / 'nginx.pid'}; error_log {tmp_path / 'error.log'};"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"nginx did not start: {(tmp_path / 'error.log').read_text(errors='replace')}")
        time.sleep(0.2)
    yield url, upstreams, tmp_path / "access.log"
    proc.terminate()
    proc.wait(timeout=10)


def test_the_proxy_spreads_requests_and_skips_a_replica_that_is_down(replicas, proxy, keys):
    url, upstreams, log = proxy
    ranger = {"X-API-Key": keys["ranger"]}
    for _ in range(12):
        r = httpx.get(f"{url}/layers", headers=ranger, timeout=30)
        assert r.status_code == 200 and "forest_plots" in [x["id"] for x in r.json()]
    time.sleep(0.3)  # the access log is written after the response
    answered = [line.split()[0] for line in log.read_text().splitlines()]
    assert set(upstreams) <= set(answered), answered  # both replicas served
    stop_server(replicas.b)  # the module's replicas: b is not needed again
    before = len(log.read_text().splitlines())
    for _ in range(8):
        r = httpx.get(f"{url}/layers", headers=ranger, timeout=30)
        assert r.status_code == 200, r.text  # a refused connection to b is retried on a
    time.sleep(0.3)
    after = [line.split() for line in log.read_text().splitlines()[before:]]
    assert len(after) == 8 and all(fields[-1] == "200" and fields[-2] == upstreams[0]
                                   for fields in after), after
