"""After a crash: no row without its file, no file without its row (``sdi ingest --repair``).

Each ``pending`` row is finished (its file is in place, or its work copy is still there and
matches the recorded COG checksum) or rolled back; a ``ready`` row whose file has gone is
removed; a file in the store that no row names is deleted; work files of dead ingests are
cleared. Anything whose advisory lock is held belongs to a live ingest and is left alone.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from rasters.errors import StoreError
from rasters.store import LocalStore, S3Store, clear_tmp, file_sha256
from sdi.models import RasterItem
from uav_ingest.registry import advisory_lock, existing_item, lock_key

logger = logging.getLogger(__name__)

_WORK = re.compile(r"^(?:ingest|upload)-([0-9a-f]{12})")
#: unknown leftovers in the tmp area are removed after this long
STALE_SECONDS = 3600


@dataclass
class RepairReport:
    completed: list[str] = field(default_factory=list)  # pending, file in place: marked ready
    resumed: list[str] = field(default_factory=list)  # pending, work copy put in place: ready
    rolled_back: list[str] = field(default_factory=list)  # pending, nothing usable: row removed
    rows_without_file: list[str] = field(default_factory=list)  # ready, file gone: row removed
    orphan_files: list[str] = field(default_factory=list)  # file, no row: deleted
    work_removed: list[str] = field(default_factory=list)  # tmp area of dead ingests
    busy: list[str] = field(default_factory=list)  # locked by a live ingest: left alone

    @property
    def changed(self) -> int:
        return sum(len(v) for k, v in vars(self).items() if k != "busy")


def _mark_ready(engine: Engine, item_id: str) -> None:
    with Session(engine) as session:
        session.execute(update(RasterItem).where(RasterItem.id == item_id).values(status="ready"))
        session.commit()


def _delete_row(engine: Engine, item_id: str) -> None:
    with Session(engine) as session:
        session.execute(delete(RasterItem).where(RasterItem.id == item_id))
        session.commit()


def _file_matches(store: LocalStore | S3Store, row: RasterItem) -> bool:
    size = store.size(row.href)
    if size is None or size != row.size_bytes:
        return False
    return store.sha256(row.href) == row.cog_sha256  # S3 too: a foreign object of the same size is no proof


def resolve_pending(engine: Engine, store: LocalStore | S3Store, row: RasterItem) -> str:
    """Finish or roll back one pending row (the caller holds its lock): completed|resumed|rolled_back."""
    if _file_matches(store, row):
        _mark_ready(engine, row.id)
        return "completed"
    store.delete(row.href)  # a partial or foreign file at the key, if any
    work = store.tmp_dir / f"ingest-{row.source_sha256[:12]}" / "cog.tif"
    if work.is_file() and file_sha256(work) == row.cog_sha256:
        store.put(work, row.href)
        _mark_ready(engine, row.id)
        clear_tmp(store, work.parent.name)
        return "resumed"
    _delete_row(engine, row.id)
    clear_tmp(store, work.parent.name)
    return "rolled_back"


def resolve_existing(engine: Engine, store: LocalStore | S3Store, sha256: str) -> tuple[RasterItem, str] | None:
    """The row of an already ingested file (the caller holds its lock), made consistent first:
    (row, "duplicate") for a ready item, (row, "resumed") for an interrupted one now finished,
    None when there is nothing (left) to reuse."""
    row = existing_item(engine, sha256)
    if row is None:
        return None
    if row.status == "ready":
        if store.exists(row.href):
            return row, "duplicate"
        logger.warning("item %s had lost its file %s: row removed, ingesting again", row.id, row.href)
        _delete_row(engine, row.id)
        return None
    outcome = resolve_pending(engine, store, row)
    if outcome == "rolled_back":
        return None
    row.status = "ready"
    return row, "resumed"


def repair(engine: Engine, store: LocalStore | S3Store, collections: list[str] | None = None, *,
           force: bool = False) -> RepairReport:
    """Make the store and ``raster_items`` agree (see the module docstring); ``collections``
    limits it to their rows and their folders of the store. Refuses (``StoreError``, nothing
    changed) when the two have nothing in common, unless ``force``: see ``_check_same_archive``."""
    report = RepairReport()
    listed = {k for k in store.keys() if collections is None or k.split("/", 1)[0] in collections}
    # the rows after the listing: a file is placed only after its row exists
    with Session(engine, expire_on_commit=False) as session:
        stmt = select(RasterItem)
        if collections is not None:
            stmt = stmt.where(RasterItem.collection_id.in_(collections))
        rows = list(session.scalars(stmt))
    if not force:
        _check_same_archive(store, rows, listed)
    for row in rows:
        with advisory_lock(engine, lock_key(row.source_sha256)) as got:
            if not got:
                report.busy.append(row.id)
                continue
            current = existing_item(engine, row.source_sha256)
            if current is None:
                continue
            if current.status == "pending":
                getattr(report, resolve_pending(engine, store, current)).append(current.id)
            elif not store.exists(current.href):
                _delete_row(engine, current.id)
                report.rows_without_file.append(current.id)
    named = {row.href for row in rows}
    for key in sorted(listed - named):
        store.delete(key)
        report.orphan_files.append(key)
    _clear_work(engine, store, report)
    return report


def _check_same_archive(store: LocalStore | S3Store, rows: list[RasterItem], listed: set[str]) -> None:
    """A crash leaves one or two strays; a store and a database with *nothing* in common mean a
    mistyped ``SDI_RASTER_STORE`` or ``SDI_DATABASE_URL``, and repairing would delete every row
    (or every file). Refuse that, with what to check; ``--force`` when it really is intended."""
    ready = [row.href for row in rows if row.status == "ready"]
    where = getattr(store, "root", None) or getattr(store, "bucket", "?")
    if len(ready) >= 2 and not listed.intersection(ready):
        raise StoreError(
            f"Không tệp nào của {len(ready)} ảnh trong danh mục có trong kho {where} — sai SDI_RASTER_STORE? "
            f"Không sửa gì / none of the {len(ready)} catalogued items has its file in the store {where}: is "
            "SDI_RASTER_STORE right? Nothing was changed; use --force to remove those rows anyway",
            code="store_mismatch")
    if len(listed) >= 2 and not listed.intersection(row.href for row in rows):
        raise StoreError(
            f"Không tệp nào trong kho {where} ({len(listed)} tệp) có trong danh mục — sai SDI_DATABASE_URL? "
            f"Không sửa gì / none of the {len(listed)} files in the store {where} is in the catalogue: is "
            "SDI_DATABASE_URL right? Nothing was changed; use --force to delete those files anyway",
            code="store_mismatch")


def _clear_work(engine: Engine, store: LocalStore | S3Store, report: RepairReport) -> None:
    if not store.tmp_dir.is_dir():
        return
    for entry in sorted(store.tmp_dir.iterdir()):
        match = _WORK.match(entry.name)
        if match is None:
            if time.time() - entry.stat().st_mtime > STALE_SECONDS:
                clear_tmp(store, entry.name)
                report.work_removed.append(entry.name)
            continue
        with advisory_lock(engine, int(match.group(1), 16)) as got:
            if got:
                clear_tmp(store, entry.name)
                report.work_removed.append(entry.name)
            else:
                report.busy.append(entry.name)
