"""Forest change reports over HTTP: ``/change/reports`` (issues 5 and 6).

- ``GET /change/reports``: the runs (before/after pairs of raster items) that have change events,
  with their totals, the communes and forest owners they touch, and links to each report.
- ``GET /change/reports/{before}/{after}?commune=CODE | owner=NAME & f=html|pdf``: the report of
  one run, for the whole run, one commune or one forest owner; the same report as
  ``sdi change report`` (``change.report``), rendered from the current ``change_events`` rows, so a
  ranger's status update or field note shows in the next request.

Access: the reports show the ``change_events`` layer, so whoever may read that layer through the
OGC API may read them (``sdi.access.visible``: it is ``internal``, so any valid key, whatever the
agency); for anyone else the reports do not exist (404, as the OGC API answers for the layer). The
before/after image chips come only from the raster items the caller may see.

Rendered reports are cached on disk under ``{state_dir}/cache/change-reports``, keyed by a digest
of every row the report shows (``change.report.version``) and of the items whose chips it holds:
any change to the events gives a new key, and the stale file is removed when the new one is written.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from change.export import read_events
from change.report import _slug, chips_for, list_runs, prepare, sources, version
from sdi.access import Principal
from sdi.callers import caller, visible_catalog
from sdi.database import translate_db_errors
from sdi.errors import InvalidInputError, NotFoundError
from sdi.settings import Settings

router = APIRouter(prefix="/change/reports", tags=["Báo cáo biến động rừng / forest change reports"])

LAYER_ID = "change_events"
#: bump when the report's look changes: cached reports of the old look are not served
REPORT_VERSION = "1"
#: before/after image chips for at most this many events (the largest) per report served
MAX_CHIPS = 60
MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
PRIVATE = {"Cache-Control": "private, no-cache", "Vary": "X-API-Key, Authorization"}


async def _reader(request: Request) -> Principal:
    """The caller, if they may read change events; otherwise the reports do not exist for them."""
    who = await caller(request)
    layers = await visible_catalog(request, who)
    if LAYER_ID not in layers:
        raise NotFoundError("Không có báo cáo biến động / no change reports (unknown, or not visible to "
                            f"{who.label})")
    return who


def _base(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.link_base(str(request.base_url)) + router.prefix


def _links(base: str, before: str, after: str, title: str, **query: str) -> list[dict]:
    href = f"{base}/{quote(before, safe='')}/{quote(after, safe='')}"
    return [{"rel": "alternate" if f == "pdf" else "describedby", "type": MEDIA[f].split(";")[0],
             "title": f"{title} ({f.upper()})", "href": f"{href}?{urlencode({**query, 'f': f})}"}
            for f in ("html", "pdf")]


@router.get("")
async def runs(request: Request) -> JSONResponse:
    """Các đợt phát hiện biến động và báo cáo / the change detection runs and their reports."""
    await _reader(request)
    with translate_db_errors():
        found = await asyncio.to_thread(list_runs, request.app.state.engine)
    base = _base(request)
    out = []
    for run in found:
        b, a = run["before_item"], run["after_item"]
        for key in ("before_date", "after_date", "detected_at"):
            run[key] = run[key].isoformat() if run[key] is not None else None
        run["links"] = _links(base, b, a, "Báo cáo cả đợt / whole run")
        for c in run["communes"]:
            c["links"] = _links(base, b, a, f"Xã / commune {c['name'] or c['code']}", commune=c["code"])
        for o in run["owners"]:
            o["links"] = _links(base, b, a, f"Chủ rừng / owner {o['name']}", owner=o["name"])
        out.append(run)
    return JSONResponse({"runs": out, "links": [{"rel": "self", "type": "application/json", "href": base}]},
                        headers=PRIVATE)


@router.get("/{before}/{after}", response_class=Response, responses={
    200: {"content": {"text/html": {}, "application/pdf": {}},
          "description": "Báo cáo / the report (HTML or PDF)"}})
async def report(request: Request, before: str, after: str,
                 commune: str | None = Query(None, max_length=8, description="mã xã / commune code"),
                 owner: str | None = Query(None, max_length=255, description="chủ rừng / forest owner"),
                 f: Literal["html", "pdf"] = Query("html", description="html | pdf")) -> Response:
    """Báo cáo biến động của một đợt, theo xã hoặc chủ rừng / one run's change report (commune, owner)."""
    who = await _reader(request)
    if commune is not None and owner is not None:
        raise InvalidInputError("Chọn xã hoặc chủ rừng, không cả hai / give commune or owner, not both")
    settings: Settings = request.app.state.settings
    with translate_db_errors():
        path, etag = await asyncio.to_thread(_cached, request.app.state.engine, settings, who, before, after,
                                             commune, owner, f)
    headers = {**PRIVATE, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if f == "pdf":
        headers["Content-Disposition"] = f'inline; filename="{_filename(before, after, commune, owner)}.pdf"'
    return FileResponse(path, media_type=MEDIA[f], headers=headers)


def _filename(before: str, after: str, commune: str | None, owner: str | None) -> str:
    return "bao-cao-bien-dong-" + _slug("-".join(x for x in (commune, owner, after) if x))


def cache_dir(settings: Settings) -> Path:
    return settings.state_dir / "cache" / "change-reports"


def _cached(engine, settings: Settings, who: Principal, before: str, after: str,
            commune: str | None, owner: str | None, fmt: str) -> tuple[Path, str]:
    """The report's file (rendered now if the events changed since it was last), and its ETag."""
    count, digest = version(engine, before, after, commune=commune, owner=owner)
    if count == 0:
        what = f"xã / commune {commune!r}" if commune else f"chủ rừng / owner {owner!r}" if owner else "đợt / run"
        raise NotFoundError(f"Không có sự kiện biến động / no change events for {what} in the run "
                            f"{before!r} → {after!r}")
    found = sources(engine, settings, {before, after}, who)
    # one file per report and set of chips the caller may see; its name carries the events' digest
    stem = hashlib.sha256("\x1f".join([str(engine.url.database), before, after, commune or "", owner or "",
                                       *sorted(found)]).encode()).hexdigest()[:20]
    key = hashlib.sha256(f"{REPORT_VERSION}|{digest}".encode()).hexdigest()[:20]
    folder = cache_dir(settings)
    path = folder / f"{stem}.{key}.{fmt}"
    if not path.is_file():
        frame = read_events(engine, before_item=before, after_item=after, commune=commune, owner=owner)
        chips = chips_for(frame.head(MAX_CHIPS), found, settings)
        rendered = prepare(engine, settings, frame, commune=commune, owner=owner, chips=chips)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=f".{fmt}")
        os.close(fd)
        try:
            if fmt == "pdf":
                rendered.pdf(Path(tmp))
            else:
                Path(tmp).write_text(rendered.html(), encoding="utf-8")
            os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
        finally:
            Path(tmp).unlink(missing_ok=True)
        for stale in folder.glob(f"{stem}.*.{fmt}"):
            if stale != path:
                stale.unlink(missing_ok=True)
        _prune(folder)
    return path, f'"{stem}-{key}"'


def _prune(folder: Path, max_age_s: float = 30 * 86400) -> None:
    """Remove reports not rendered for a month (runs deleted, or never asked for again)."""
    import time

    limit = time.time() - max_age_s
    for old in folder.iterdir():
        try:
            if old.stat().st_mtime < limit:
                old.unlink()
        except FileNotFoundError:
            pass
