"""The manifest of a backup folder, and the check of a folder against it (``sdi backup --verify``).

Layout of a backup::

    database.dump            pg_dump -Fc of the SDI database (one transaction snapshot)
    cogs/<collection>/<item>.tif   every COG the snapshot lists as ready (the store's keys)
    stac/<collection>/<item>.json  each ready item's STAC Item, as /stac serves it (for humans)
    settings.json            the settings, without passwords or keys
    manifest.json            SHA-256 and size of every file above, row counts, the COGs' store keys
    manifest.json.sha256     the manifest's own SHA-256 (``sha256sum -c`` format)

The manifest's own checksum catches an edited manifest (a changed count or checksum) as surely as
the manifest catches a changed file.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rasters.store import file_sha256
from sdi.errors import BackupInvalidError

FORMAT = "langson-sdi-backup/1"
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.json.sha256"
DUMP = "database.dump"
SETTINGS = "settings.json"
COGS = "cogs"
STAC = "stac"


@dataclass
class Manifest:
    created_at: str
    schema_revision: str | None
    server_version: str
    pg_dump_version: int
    snapshot: str
    store: str
    #: "schema.table" → rows in the snapshot
    tables: dict[str, int] = field(default_factory=dict)
    #: the COGs: item id, collection, store key (the file is ``cogs/<key>``), SHA-256 in the catalogue
    cogs: list[dict[str, str]] = field(default_factory=list)
    stac_items: int = 0
    #: relative path → {"sha256", "size"}
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: str = FORMAT

    def add_file(self, root: Path, rel: str) -> None:
        path = root / rel
        self.files[rel] = {"sha256": file_sha256(path), "size": path.stat().st_size}

    def write(self, root: Path) -> None:
        body = json.dumps(asdict(self), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        (root / MANIFEST).write_text(body, encoding="utf-8")
        (root / MANIFEST_SUM).write_text(f"{file_sha256(root / MANIFEST)}  {MANIFEST}\n")


def read(root: Path) -> Manifest:
    """The manifest of ``root``, its own checksum checked first."""
    if not root.is_dir():
        raise BackupInvalidError(f"Không có thư mục sao lưu / no backup folder at {root}")
    for name in (MANIFEST, MANIFEST_SUM):
        if not (root / name).is_file():
            raise BackupInvalidError(f"Thiếu tệp / missing file: {name} in {root}")
    recorded = (root / MANIFEST_SUM).read_text().split()[0] if (root / MANIFEST_SUM).read_text().strip() else ""
    if file_sha256(root / MANIFEST) != recorded:
        raise BackupInvalidError(f"Tệp kê khai đã bị sửa / {MANIFEST} was changed: its SHA-256 is not the one "
                                 f"in {MANIFEST_SUM}")
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except (ValueError, TypeError) as exc:
        raise BackupInvalidError(f"Tệp kê khai không đọc được / {MANIFEST} is unreadable: {exc}") from exc
    if manifest.format != FORMAT:
        raise BackupInvalidError(f"Định dạng không hỗ trợ / unsupported backup format {manifest.format!r}")
    return manifest


def verify(root: Path, pg_restore: str) -> Manifest:
    """Check every file against the manifest and the dump with ``pg_restore --list``; raises
    ``BackupInvalidError`` naming each file that is missing, changed or not listed."""
    manifest = read(root)
    problems: list[str] = []
    for rel, want in sorted(manifest.files.items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"thiếu / missing: {rel}")
        elif path.stat().st_size != want["size"] or file_sha256(path) != want["sha256"]:
            problems.append(f"bị thay đổi / changed (SHA-256 differs): {rel}")
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    for rel in sorted(present - set(manifest.files) - {MANIFEST, MANIFEST_SUM}):
        problems.append(f"không có trong kê khai / not in the manifest: {rel}")
    for cog in manifest.cogs:
        rel = f"{COGS}/{cog['key']}"
        if rel not in manifest.files:
            problems.append(f"thiếu trong kê khai / the manifest lists no file for item {cog['item']}: {rel}")
        elif manifest.files[rel]["sha256"] != cog["sha256"]:
            problems.append(f"khác danh mục / differs from the catalogue's checksum: {rel}")
    stac_files = [rel for rel in manifest.files if rel.startswith(f"{STAC}/")]
    if len(stac_files) != manifest.stac_items:
        problems.append(f"số mục STAC / {len(stac_files)} STAC files listed, {manifest.stac_items} counted")
    if DUMP not in manifest.files:
        problems.append(f"thiếu / the manifest lists no {DUMP}")
    if not problems:
        problems += _check_dump(root / DUMP, pg_restore, manifest)
    if problems:
        raise BackupInvalidError(f"Bản sao lưu {root} không hợp lệ / the backup does not check out: "
                                 + "; ".join(problems), problems=problems)
    return manifest


def _check_dump(dump: Path, pg_restore: str, manifest: Manifest) -> list[str]:
    """``pg_restore --list`` reads the table of contents (every counted table must have its data in it),
    then ``pg_restore --file=/dev/null`` reads every data block to the end (``--list`` alone passes a
    truncated archive: the table of contents is at its start)."""
    result = subprocess.run([pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False)
    if result.returncode == 0:
        whole = subprocess.run([pg_restore, f"--file={os.devnull}", str(dump)], capture_output=True, text=True,
                               check=False)
        if whole.returncode != 0:
            result = whole
    if result.returncode != 0:
        return [f"không đọc được / {DUMP} unreadable by pg_restore: {result.stderr.strip()[:500]}"]
    entries = set()
    for line in result.stdout.splitlines():
        parts = line.split()
        # "<id>; <oid> <oid> TABLE DATA <schema> <name> <owner>"
        if len(parts) >= 7 and parts[3:5] == ["TABLE", "DATA"]:
            entries.add(f"{parts[5]}.{parts[6]}")
    return [f"{DUMP} thiếu dữ liệu bảng / has no data for table {t}" for t in sorted(set(manifest.tables) - entries)]
