"""The layers of the code (docs/ARCHITECTURE.md) hold: import-linter's contracts in pyproject.toml
pass on the tree, and they have teeth: an upward import added to a copy of the tree fails them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sdi", "layers", "rasters", "uav_ingest", "change", "ops", "tiles", "api")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy's packages before the installed tree
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", root)
    for name in PACKAGES:
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.yaml", "*.html"))
    return root


@pytest.mark.parametrize(("module", "upward", "contract"), [
    ("sdi/settings.py", "import layers.catalog", "core (sdi) imports nothing above it"),
    ("sdi/access.py", "from tiles import reader", "core (sdi) imports nothing above it"),
    ("tiles/reader.py", "from api.ogc import context", "domains below services"),
    ("change/run.py", "import tiles.params", "domains below services"),
    ("ops/backup.py", "from api import app", "domains below services"),
    ("rasters/items.py", "from layers import loader", "domains below services"),
    ("layers/catalog.py", "from sdi.cli import app", "only entry points import the entry points"),
])
def test_an_upward_import_fails_the_contracts(copy: Path, module: str, upward: str, contract: str):
    path = copy / module
    original = path.read_text()
    path.write_text(original.replace("from __future__ import annotations\n",
                                     f"from __future__ import annotations\n\n{upward}\n", 1))
    try:
        result = _lint(copy)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken and module.removesuffix(".py").replace("/", ".") in broken, result.stdout
