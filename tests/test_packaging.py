"""Deployment files: docker compose accepts the stack; CI and Makefile keep their promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_accepts_the_stack():
    """PostGIS, an S3 store with a volume, a one-off set-up, two replicas of one image on the S3 store and
    nginx in front on port 8000: each long-running service with a healthcheck."""
    compose = _compose()
    if compose is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    result = subprocess.run([*compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    db, s3, setup, proxy = services["db"], services["s3"], services["setup"], services["proxy"]
    assert db["image"].startswith("postgis/postgis")
    assert s3["image"].startswith("chrislusf/seaweedfs") and "server" in " ".join(s3["command"])
    assert "-s3" in " ".join(s3["command"]).split()
    # a volume on /data: "s3data:/data:rw" (docker-compose 1) or {target: /data, …} (docker compose 2)
    assert any((v.get("target") if isinstance(v, dict) else v.split(":")[1]) == "/data" for v in s3["volumes"])
    replicas = [services[name] for name in ("app1", "app2")]
    for app in replicas:
        env = app["environment"]
        assert env["SDI_DATABASE_URL"].endswith("@db:5432/sdi")
        assert env["SDI_RASTER_STORE"].startswith("s3://") and env["SDI_S3_ENDPOINT_URL"] == "http://s3:8333"
        assert env["SDI_S3_ACCESS_KEY"] and env["SDI_S3_SECRET_KEY"] and env["SDI_S3_REGION"]
        assert app["depends_on"]["db"]["condition"] == "service_healthy"
        assert app["depends_on"]["s3"]["condition"] == "service_healthy"
        assert app["depends_on"]["setup"]["condition"] == "service_completed_successfully"
        assert "ports" not in app  # reached through the proxy only
    assert replicas[0]["image"] == replicas[1]["image"] and replicas[0]["environment"] == replicas[1]["environment"]
    assert setup["image"] == replicas[0]["image"] and "sdi" in " ".join(setup["command"])
    ports = proxy["ports"][0]
    assert str(ports["published"] if isinstance(ports, dict) else ports.split(":")[0]) == "8000"
    assert {"app1", "app2"} <= set(proxy["depends_on"])
    for service in (db, s3, proxy, *replicas):
        assert "healthcheck" in service
    # the proxy's configuration is in the repository and names both replicas
    mounted = [str(v) for v in proxy["volumes"]]
    assert any("deploy/nginx.conf" in v for v in mounted)
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server app1:8000" in conf and "server app2:8000" in conf and "listen 8000" in conf


def test_ci_runs_make_test():
    text = (ROOT / ".ci/run").read_text()
    assert "make test" in text


def test_docker_image_copies_every_package():
    """The image installs the project from what the Dockerfile copies: every package must be there."""
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "packages"]
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    copied = {line.split()[1] for line in dockerfile if line.startswith("COPY ")}
    assert set(packages) <= copied, set(packages) - copied
