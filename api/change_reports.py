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

Rendered reports are cached in PostgreSQL (``change_report_cache``, ``sdi.models.CachedReport``), one
row per report, format and set of chips, valid for one digest of every row the report shows
(``change.report.version``): any change to the events gives a new digest, and the new rendering
replaces the stale one in the same row. Every replica on the database serves what any of them
rendered, with the same ETag (made of the report's identity and that digest, not of the bytes).
The database rather than the raster store: it is the one thing every replica surely shares (the
store may be a local folder), an upsert replaces a report atomically, pruning is one ``DELETE``,
and a report (a few hundred kB of HTML, a PDF of a few MB) is small for a ``bytea``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from change.export import read_events
from change.report import _slug, chips_for, list_runs, prepare, sources, version
from sdi.access import Principal
from sdi.callers import caller, visible_catalog
from sdi.database import translate_db_errors
from sdi.errors import InvalidInputError, NotFoundError
from sdi.models import CachedReport
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
        content, etag = await asyncio.to_thread(_cached, request.app.state.engine, settings, who, before, after,
                                             commune, owner, f)
    headers = {**PRIVATE, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if f == "pdf":
        headers["Content-Disposition"] = f'inline; filename="{_filename(before, after, commune, owner)}.pdf"'
    return Response(content, media_type=MEDIA[f], headers=headers)


def _filename(before: str, after: str, commune: str | None, owner: str | None) -> str:
    return "bao-cao-bien-dong-" + _slug("-".join(x for x in (commune, owner, after) if x))


#: reports not rendered for this long are removed (runs deleted, or never asked for again)
MAX_AGE = dt.timedelta(days=30)


def _cached(engine: Engine, settings: Settings, who: Principal, before: str, after: str,
            commune: str | None, owner: str | None, fmt: str) -> tuple[bytes, str]:
    """The report (rendered now if the events changed since it was last, by any replica), and its ETag."""
    count, digest = version(engine, before, after, commune=commune, owner=owner)
    if count == 0:
        what = f"xã / commune {commune!r}" if commune else f"chủ rừng / owner {owner!r}" if owner else "đợt / run"
        raise NotFoundError(f"Không có sự kiện biến động / no change events for {what} in the run "
                            f"{before!r} → {after!r}")
    found = sources(engine, settings, {before, after}, who)
    # one row per report and set of chips the caller may see, valid for the events' digest
    stem = hashlib.sha256("\x1f".join([str(engine.url.database), before, after, commune or "", owner or "",
                                       *sorted(found)]).encode()).hexdigest()[:20]
    key = hashlib.sha256(f"{REPORT_VERSION}|{digest}".encode()).hexdigest()[:20]
    etag, row_key = f'"{stem}-{key}"', f"{stem}.{fmt}"
    with Session(engine) as session:
        content = session.scalar(select(CachedReport.content).where(CachedReport.key == row_key,
                                                                    CachedReport.version == key))
    if content is None:
        frame = read_events(engine, before_item=before, after_item=after, commune=commune, owner=owner)
        chips = chips_for(frame.head(MAX_CHIPS), found, settings)
        rendered = prepare(engine, settings, frame, commune=commune, owner=owner, chips=chips)
        if fmt == "pdf":
            with tempfile.TemporaryDirectory(prefix="sdi-report-") as tmp:
                rendered.pdf(Path(tmp) / "report.pdf")
                content = (Path(tmp) / "report.pdf").read_bytes()
        else:
            content = rendered.html().encode("utf-8")
        _store(engine, row_key, key, MEDIA[fmt], content)
    return bytes(content), etag


def _store(engine: Engine, row_key: str, key: str, media_type: str, content: bytes) -> None:
    """Keep a rendering (replacing the stale one of the same report), forget those not rendered for a month."""
    values = {"key": row_key, "version": key, "media_type": media_type, "content": content,
              "created": dt.datetime.now(dt.UTC)}
    stmt = insert(CachedReport).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=[CachedReport.key],
                                      set_={k: stmt.excluded[k] for k in values if k != "key"})
    with Session(engine) as session:
        session.execute(stmt)
        session.execute(delete(CachedReport).where(CachedReport.created < dt.datetime.now(dt.UTC) - MAX_AGE))
        session.commit()
