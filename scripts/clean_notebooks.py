"""Clear the notebooks' outputs before a commit (``make notebooks-clean``): outputs, execution counts,
nbclient's per-cell timings and the kernel's details (Python version) go; sources and ids stay.
``--check`` changes nothing and exits 1 when a notebook would change (the suite checks the same in
``tests/notebooks``).

Run with the project's Python: ``.venv/bin/python scripts/clean_notebooks.py [--check] [NOTEBOOK...]``
(default: every ``notebooks/*.ipynb``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def clean(nb: nbformat.NotebookNode) -> bool:
    """Strip ``nb`` in place; whether anything was there to strip."""
    changed = False
    language = nb.metadata.get("language_info", {})
    if set(language) - {"name"}:
        nb.metadata["language_info"] = {"name": language.get("name", "python")}
        changed = True
    for cell in nb.cells:
        if "execution" in cell.metadata:
            del cell.metadata["execution"]
            changed = True
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs, cell.execution_count = [], None
            changed = True
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or sorted(NOTEBOOKS.glob("*.ipynb"))
    dirty = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if clean(nb):
            dirty.append(path)
            if not check:
                nbformat.write(nb, path)
    for path in dirty:
        print(f"{'có kết quả / has outputs' if check else 'đã xoá kết quả / cleared'}: {path}")
    return 1 if check and dirty else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
