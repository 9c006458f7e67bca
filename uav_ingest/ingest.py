"""File → validated COG → statistics, footprint, STAC item → store + ``raster_items``, atomically.

Registration is two-phase (see ``sdi.models.RasterItem``):

1. everything is computed on a work copy in the store's tmp area (``ingest-<random12>/``, locked,
   renamed ``ingest-<sha12>/`` once the source's checksum, computed alongside, is known);
2. the row is written ``pending`` with its final ``href`` (commit);
3. the COG is put in place (an atomic rename, or one S3 PUT);
4. the row is marked ``ready`` (commit).

The whole ingest of a file holds a PostgreSQL advisory lock named by its checksum, released
by the server if the process dies. A crash before 2 leaves only a work folder; between 2 and
4 a ``pending`` row whose work copy or final file tells how far it got. ``uav_ingest.repair``
(a re-run of the same file, or ``sdi ingest --repair``) finishes or rolls back each case, and
never touches the work of a live ingest (its lock is held).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from layers.province import province_area
from rasters.collections import band_names, get_collection
from rasters.errors import RasterRejected
from rasters.store import LocalStore, S3Store, clear_tmp, file_sha256, open_store
from sdi import metrics
from sdi.database import translate_db_errors
from sdi.errors import InvalidInputError
from sdi.models import RasterItem
from sdi.settings import Settings
from uav_ingest import cog, footprint, item, stats, validate
from uav_ingest.progress import Quiet, Steps
from uav_ingest.registry import advisory_lock, lock_key
from uav_ingest.repair import resolve_existing

logger = logging.getLogger(__name__)

#: naive datetimes are the province's local time
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class IngestResult:
    """The outcome for one file (the CLI's summary row; the API's answer)."""

    source: str
    collection: str
    status: str  # ingested | duplicate | resumed | failed
    item_id: str | None = None
    message: str = ""
    code: str | None = None
    size_bytes: int | None = None
    cog_bytes: int | None = None
    gsd_m: float | None = None
    epsg: int | None = None
    width: int | None = None
    height: int | None = None
    bands: int | None = None
    compression: str | None = None
    seconds: float = 0.0
    stac: dict = field(default_factory=dict, repr=False)


def parse_when(text: str) -> dt.datetime:
    """ISO 8601 date or date-time; without an offset it is Vietnam time (UTC+7)."""
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInputError(f"Thời điểm không hợp lệ / invalid datetime {text!r}: use ISO 8601, "
                                "e.g. 2026-03-15T09:30:00+07:00 or 2026-03-15") from exc
    return when if when.tzinfo else when.replace(tzinfo=LOCAL_TZ)


@metrics.timed_job("ingest")
def ingest_file(path: Path, *, collection_id: str, when: dt.datetime, engine: Engine, settings: Settings,
                platform: str | None = None, web_optimized: bool = False, steps: Steps | None = None,
                store: LocalStore | S3Store | None = None, source_name: str | None = None,
                sha256: str | None = None) -> IngestResult:
    """Ingest one file; raises ``RasterRejected`` (or another ``SDIError``) with nothing left behind.

    ``source_name`` (the uploaded file's name) and ``sha256`` (hashed while it streamed in) are
    given by the HTTP upload; the CLI leaves them to be taken from ``path``. The source's checksum
    is computed in a thread beside validation and conversion; as soon as it is known the file's
    lock is taken and a duplicate stops the conversion (see ``_Claim``).
    """
    started = time.monotonic()
    steps = steps or Quiet()
    store = store or open_store(settings)
    collection = get_collection(engine, collection_id)
    name = source_name or path.name
    validate.sniff(path, settings.max_raster_bytes, name)
    result = IngestResult(source=name, collection=collection.id, status="ingested", size_bytes=path.stat().st_size)
    stop = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="sha256") as pool, ExitStack() as held:
        held.callback(stop.set)  # runs first on the way out: a hash still running stops at its next chunk
        checksum: Future[str] = pool.submit(_sha256_until, path, stop) if sha256 is None else _known(sha256)
        token = secrets.token_hex(6)  # the work folder's name until the checksum names it
        if not held.enter_context(advisory_lock(engine, lock_key(token))):  # repair leaves a locked folder alone
            raise RuntimeError("work-folder lock taken")  # 48 random bits: never in practice
        claim = _Claim(engine, store, collection.id, name, result, checksum, held, store.tmp_dir / f"ingest-{token}")
        claim.work.mkdir(parents=True)
        try:
            _run(path, name, claim, result, collection.id, collection.kind, when, platform, web_optimized,
                 engine, settings, store, steps)
        except _Settled:
            pass
        finally:
            clear_tmp(store, claim.work.name)
    result.seconds = time.monotonic() - started
    return result


class _Settled(Exception):
    """The file was known (a duplicate, or an interrupted ingest of it now finished): stop converting."""


def _known(sha256: str) -> Future[str]:
    done: Future[str] = Future()
    done.set_result(sha256)
    return done


def _sha256_until(path: Path, stop: threading.Event) -> str:
    """The file's SHA-256 (hashlib releases the GIL on big chunks); gives up once ``stop`` is set."""

    def check(_: int) -> None:
        if stop.is_set():
            raise _Settled()

    return file_sha256(path, check)


@dataclass
class _Claim:
    """The checksum of the source and what follows from it, as soon as it is known: the file's
    advisory lock (held to the end of the ingest), the duplicate check, the work folder's final
    name ``ingest-<sha12>`` (which ``repair`` looks for)."""

    engine: Engine
    store: LocalStore | S3Store
    collection_id: str
    name: str
    result: IngestResult
    checksum: Future[str]
    held: ExitStack
    work: Path
    sha: str | None = None
    tried: bool = False

    def try_now(self) -> None:
        """Claim if the checksum is ready (never waits): called between steps and during conversion.
        Once tried it is not tried again (rio-cogeo's progress bar writes once more while unwinding)."""
        if self.sha is None and not self.tried and self.checksum.done():
            self._claim(self.checksum.result())

    def wait(self) -> str:
        """Claim (waiting for the checksum if need be) and give the work folder its final name."""
        if self.sha is None:
            self._claim(self.checksum.result())
        assert self.sha is not None
        final = self.store.tmp_dir / f"ingest-{self.sha[:12]}"
        if self.work != final:
            self.work.rename(final)  # conversion is over: nothing is open in it
            self.work = final
        return self.sha

    def _claim(self, sha: str) -> None:
        self.tried = True
        if not self.held.enter_context(advisory_lock(self.engine, lock_key(sha))):
            raise RasterRejected("busy", f"Tệp đang được nạp bởi tiến trình khác / {self.name} is being ingested "
                                 "by another process right now")
        existing = resolve_existing(self.engine, self.store, sha)
        if existing is not None:
            row, how = existing
            if row.collection_id != self.collection_id:
                raise RasterRejected("duplicate", f"Tệp này đã được nạp vào bộ sưu tập / this file was already "
                                     f"ingested into collection {row.collection_id!r} as {row.id!r}",
                                     item_id=row.id, collection=row.collection_id)
            _fill(self.result, row)
            self.result.status = how
            self.result.message = ("đã có, bỏ qua / already ingested (same checksum), nothing new"
                                   if how == "duplicate" else "hoàn tất lần nạp dở / finished an interrupted ingest")
            raise _Settled()
        clear_tmp(self.store, f"ingest-{sha[:12]}")  # a dead ingest's leftovers (its row, if any, was resolved)
        self.sha = sha


def _run(path: Path, name: str, claim: _Claim, result: IngestResult, collection_id: str, kind: str,
         when: dt.datetime, platform: str | None, web_optimized: bool, engine: Engine, settings: Settings,
         store: LocalStore | S3Store, steps: Steps) -> None:
    steps.start(f"kiểm tra / validate {name}")
    info = validate.inspect_source(path, kind=kind, default_bands=band_names(engine, collection_id),
                                   max_pixels=settings.max_raster_pixels, max_bytes=settings.max_raster_bytes,
                                   name=name)
    with engine.connect() as conn:
        area = province_area(conn, settings)
    if not area.intersects(shapely.box(*info.bounds_4326)):
        raise _outside(name, info.bounds_4326)
    steps.done()
    claim.try_now()

    steps.start(f"COG: đọc, nén / read, compress {name}", 100)
    stage = {"writing": False}

    def converting(percent: int) -> None:  # rio-cogeo reports the pixel copy; then overviews and the copy out
        claim.try_now()  # a duplicate found now stops the conversion (_Settled unwinds rio-cogeo)
        steps.update(percent)
        if percent >= 100 and not stage["writing"]:
            stage["writing"] = True
            steps.start(f"COG: tổng quan, ghi / overviews, write {name}")

    how = cog.to_cog(info, kind, claim.work / "cog.tif", web_optimized=web_optimized, progress=converting,
                     name=name)
    steps.done()
    sha = claim.wait()
    tmp = claim.work / "cog.tif"

    steps.start(f"thống kê, đường bao / statistics, footprint {name}")
    facts = item.cog_facts(tmp)
    outline, share = footprint.valid_footprint(tmp)
    if outline is None:
        raise RasterRejected("no_valid_data", f"Ảnh không có điểm ảnh hợp lệ nào / {name} has no valid "
                             "pixel (all nodata or masked)")
    if not area.intersects(outline):
        raise _outside(name, outline.bounds)
    band_stats = stats.band_statistics(tmp, categorical=kind == "categorical")
    steps.done()

    cog_size = tmp.stat().st_size
    steps.start(f"checksum COG {name}", cog_size)
    cog_sha = file_sha256(tmp, steps.advance)
    steps.done()

    iid = item.item_id(name, sha)
    key = f"{collection_id}/{iid}.tif"
    stac = item.build_item(item_id=iid, collection_id=collection_id, kind=kind, when=when, platform=platform,
                           source_name=name, info=info, facts=facts, footprint=outline, stats=band_stats,
                           source_sha256=sha, cog_sha256=cog_sha, cog_size=cog_size)
    stac["properties"]["sdi:valid_percent"] = round(share * 100, 3)
    row = RasterItem(id=iid, collection_id=collection_id, datetime=when, status="pending", source_sha256=sha,
                     href=key, cog_sha256=cog_sha, size_bytes=cog_size, platform=platform,
                     gsd_m=round(info.gsd_m, 6), epsg=facts.epsg, width=facts.width, height=facts.height,
                     band_count=facts.count, stac=stac, footprint=from_shape(outline, srid=4326))
    with translate_db_errors(), Session(engine, expire_on_commit=False) as session:
        session.add(row)
        session.commit()  # phase 1: pending, with the final href
    try:
        steps.start(f"lưu / store {key}", cog_size)
        place(store, tmp, key, steps)
        steps.done()
        with translate_db_errors(), Session(engine) as session:  # phase 2: ready
            session.execute(update(RasterItem).where(RasterItem.id == iid).values(status="ready"))
            session.commit()
    except BaseException:
        _roll_back(engine, store, iid, key)
        raise
    _fill(result, row)
    result.compression = facts.compression
    result.message = f"{how.profile['compress']}, {len(facts.overviews)} overviews, mask={facts.mask}"
    logger.debug("ingested %s as %s/%s", name, collection_id, iid)


def place(store: LocalStore | S3Store, tmp: Path, key: str, steps: Steps) -> None:
    """Put the finished COG at its key (a separate function: tests inject a crash here)."""
    store.put(tmp, key, progress=steps.advance)


def _roll_back(engine: Engine, store: LocalStore | S3Store, iid: str, key: str) -> None:
    """An error (not a crash) after the pending row: remove the file and the row, best effort;
    whatever remains is a pending row that ``repair`` resolves."""
    try:
        store.delete(key)
        with Session(engine) as session:
            session.execute(delete(RasterItem).where(RasterItem.id == iid, RasterItem.status == "pending"))
            session.commit()
    except Exception:
        logger.exception("roll-back of %s incomplete; `sdi ingest --repair` will finish it", iid)


def _fill(result: IngestResult, row: RasterItem) -> None:
    result.item_id, result.cog_bytes, result.gsd_m = row.id, row.size_bytes, row.gsd_m
    result.epsg, result.width, result.height, result.bands = row.epsg, row.width, row.height, row.band_count
    result.stac = row.stac


def _outside(name: str, bounds: tuple[float, ...]) -> RasterRejected:
    box = ", ".join(f"{v:.4f}" for v in bounds)
    return RasterRejected("outside_province", f"Ảnh nằm ngoài tỉnh Lạng Sơn / {name} lies outside Lạng Sơn "
                          f"province (lon/lat bounds {box}): kiểm tra hệ tọa độ / check its CRS")
