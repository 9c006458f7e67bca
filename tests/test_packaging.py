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
    compose = _compose()
    if compose is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    result = subprocess.run([*compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    app, db = config["services"]["app"], config["services"]["db"]
    assert app["environment"]["SDI_DATABASE_URL"].endswith("@db:5432/sdi")
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert "healthcheck" in app and "healthcheck" in db
    assert db["image"].startswith("postgis/postgis")


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
