"""Harvest: another agency's OGC API Features or WFS 2.0 service copied into layers of the catalogue.

- ``add_source`` (``sdi harvest add``, ``POST /harvest/sources``): the URL checked (``harvest_fetch.check_url``),
  the service detected, the chosen collections (default: all) downloaded, then each published as the
  layer ``hv_<source>_<collection>`` through the one publishing path (``layers.publish.create_layer``:
  id rules, schema, repair, inside the province, CRS incl. VN-2000), owned by the given agency, with the
  source URL and harvest time in its lineage. Every collection is read before anything is created, and a
  refusal removes what this call created: a bad source leaves nothing behind.
- ``run_source`` (``sdi harvest run``): each collection read again and its layer's rows replaced in one
  transaction (``layers.loader``) with the lineage; a collection that cannot be read or fails validation
  keeps its previous copy served, and the error is recorded on the source (``last_error``, ``status``).
- ``run_due``: the sources whose ``next_due`` has come (``every`` given); an operator's cron or systemd
  timer calls ``sdi harvest run --due``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from sqlalchemy import Engine, MetaData, Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert

from layers.catalog import get_layer, load_catalog
from layers.harvest_fetch import Service, SourceError, check_url, detect, download
from layers.loader import load_batches
from layers.publish import create_layer
from layers.published import LAYER_ID, SCHEMA, column_name
from layers.quality import ValidationReport
from layers.sources import open_source
from layers.trash import unpublish
from sdi.access import Principal
from sdi.agencies import read_agencies
from sdi.errors import ConflictError, InvalidInputError, NotFoundError, SDIError
from sdi.models import HarvestSource, LayerRecord
from sdi.text import fold

logger = logging.getLogger(__name__)
ACCESS = ("public", "internal", "restricted")
SOURCE_ID = re.compile(r"^[a-z][a-z0-9]{0,19}$")


def parse_every(every: str | None) -> int | None:
    """Seconds of an interval such as ``1d``, ``6h``, ``30min`` (pandas' notation); None: on demand only."""
    if every is None or not every.strip():
        return None
    try:
        # pandas reads the interval; its day unit is now spelled "D", operators write "1d"
        seconds = int(pd.Timedelta(re.sub(r"(?<=\d)d$", "D", every.strip())).total_seconds())
    except ValueError as exc:
        raise InvalidInputError(f"Chu kỳ không hợp lệ / {every!r} is not an interval such as 1d, 6h or 30min") from exc
    if seconds < 60:
        raise InvalidInputError(f"Chu kỳ quá ngắn / the interval {every!r} is under one minute")
    return seconds


def source_id_for(url: str) -> str:
    """A short id from the URL's host (``gis.sonnmt.langson.gov.vn`` → ``sonnmt``; an address → ``h127001``)."""
    host = urlsplit(url).hostname or ""
    labels = [p for p in host.split(".") if p not in ("www", "gis", "api", "geo", "maps", "ogc", "wfs", "services")]
    name = re.sub(r"[^a-z0-9]", "", fold(labels[0] if labels and not host[:1].isdigit() else host))[:20]
    return name if name[:1].isalpha() else f"h{name}"[:20]


def layer_id_for(source_id: str, collection: str) -> str:
    """``hv_<source>_<collection>``, the collection folded to an identifier (the id rules of ``check_layer_id``)."""
    return f"hv_{source_id}_{column_name(collection, set())}"[:63].rstrip("_")


def lineage(url: str, collection: str, when: dt.datetime) -> str:
    return (f"Thu thập từ / harvested from {url} (collection {collection!r}) lúc / at "
            f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")


def add_source(engine: Engine, settings: Any, url: str, *, agency: str, access_level: str = "internal",
               collections: list[str] | None = None, every: str | None = None, source_id: str | None = None,
               who: Principal | None = None) -> dict:
    """Register ``url`` and publish its collections as layers (see the module docstring); the source."""
    url = check_url(url, settings)
    if access_level not in ACCESS:
        raise InvalidInputError(f"access phải là / must be one of {', '.join(ACCESS)}, not {access_level!r}")
    agencies = read_agencies()
    if agency not in agencies:
        raise InvalidInputError(f"Cơ quan không rõ / unknown agency {agency!r}; known: {', '.join(sorted(agencies))}")
    every_s = parse_every(every)
    source_id = source_id or source_id_for(url)
    if not SOURCE_ID.fullmatch(source_id):
        raise InvalidInputError(f"Mã nguồn không hợp lệ / invalid source id {source_id!r}: 1–20 lower-case letters "
                                "and digits, starting with a letter")
    with engine.connect() as conn:
        taken = conn.execute(select(HarvestSource.id, HarvestSource.url).where(
            (HarvestSource.id == source_id) | (HarvestSource.url == url))).first()
    if taken is not None:
        raise ConflictError(f"Nguồn đã đăng ký / a source {taken.id!r} ({taken.url}) is registered already; "
                            "choose another id (--id) or run it (sdi harvest run)")
    service = detect(url, settings)
    chosen = collections or sorted(service.collections)
    unknown = [c for c in chosen if c not in service.collections]
    if unknown:
        raise InvalidInputError(f"Không có bộ sưu tập / no collection {', '.join(map(repr, unknown))} at {url}; it "
                                f"has: {', '.join(sorted(service.collections))}")
    ids = {c: layer_id_for(source_id, c) for c in chosen}
    for layer_id in ids.values():
        if not LAYER_ID.fullmatch(layer_id):
            raise InvalidInputError(f"Mã lớp không hợp lệ / the layer id {layer_id!r} derived from the source is "
                                    "not valid; give a shorter source id (--id)")
    now = dt.datetime.now(dt.UTC)
    created: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sdi-harvest-") as tmp:
        try:
            files = {c: _fetch(service, url, c, Path(tmp), settings) for c in chosen}
            for collection, path in files.items():
                title, description = service.collections[collection]
                create_layer(path, ids[collection], engine=engine, settings=settings, title_vi=title,
                             title_en=title, owner=agency, who=who, access_level=access_level,  # type: ignore[arg-type]
                             abstract_vi=description, abstract_en=description,
                             source_name=f"{url} [{collection}]")
                created.append(ids[collection])
                with engine.begin() as conn:
                    conn.execute(update(LayerRecord).where(LayerRecord.id == ids[collection]).values(
                        lineage=lineage(url, collection, now), contact=url))
            with engine.begin() as conn:
                conn.execute(insert(HarvestSource).values(
                    id=source_id, url=url, kind=service.kind, agency=agency, access_level=access_level,
                    collections=chosen, layers=ids, every_s=every_s, last_run=now,
                    next_due=now + dt.timedelta(seconds=every_s) if every_s else None,
                    status={c: {"layer": ids[c], "ok": True, "at": now.isoformat()} for c in chosen},
                    created_by=who.label if who is not None else None))
        except BaseException:
            _drop_layers(engine, created)
            raise
    return get_source(engine, source_id)


def _fetch(service: Service, url: str, collection: str, folder: Path, settings: Any) -> Path:
    try:
        return download(service.kind, url, collection, folder / f"{column_name(collection, set())}.gpkg", settings)
    except SourceError as exc:
        raise InvalidInputError(str(exc)) from exc


def _drop_layers(engine: Engine, layer_ids: list[str]) -> None:
    """Remove layers this harvest created a moment ago (a later collection was refused): nothing stays."""
    with engine.begin() as conn:
        for layer_id in layer_ids:
            conn.execute(delete(LayerRecord).where(LayerRecord.id == layer_id))
            Table(layer_id, MetaData(), schema=SCHEMA).drop(conn, checkfirst=True)


def run_source(engine: Engine, settings: Any, source_id: str) -> dict:
    """Refresh every layer of a source (see the module docstring); the source as it now stands."""
    source = get_source(engine, source_id)
    now = dt.datetime.now(dt.UTC)
    status: dict[str, dict] = {}
    errors: list[str] = []
    catalog = load_catalog(engine)
    with tempfile.TemporaryDirectory(prefix="sdi-harvest-") as tmp:
        for collection in source["collections"]:
            layer_id = source["layers"][collection]
            try:
                layer = get_layer(catalog, layer_id)
                path = download(source["kind"], source["url"], collection, Path(tmp) / f"{layer_id}.gpkg", settings)
                report = _replace(engine, settings, layer, path, source["url"], collection, now)
                status[collection] = {"layer": layer_id, "ok": True, "at": now.isoformat(),
                                      "features": report.counts.inserted + report.counts.updated}
            except (SourceError, SDIError) as exc:
                detail = getattr(exc, "detail", None) or str(exc)
                logger.warning("harvest %s/%s failed: %s", source_id, collection, detail)
                errors.append(f"{collection}: {detail}")
                status[collection] = {"layer": layer_id, "ok": False, "at": now.isoformat(), "error": detail}
    every = source["every_s"]
    with engine.begin() as conn:
        conn.execute(update(HarvestSource).where(HarvestSource.id == source_id).values(
            last_run=now, last_error="; ".join(errors) or None, status=status,
            next_due=now + dt.timedelta(seconds=every) if every else None))
    return get_source(engine, source_id)


def _replace(engine: Engine, settings: Any, layer: Any, path: Path, url: str, collection: str,
             now: dt.datetime) -> ValidationReport:
    """The layer's rows replaced by the file's, and its lineage, in one transaction (the loader's)."""
    source = open_source(path, max_bytes=settings.max_load_bytes)
    report = ValidationReport(layer=layer.id, source=f"{url} [{collection}]", driver=source.driver,
                              source_crs=source.crs.to_string() if source.crs else None, mode="replace")
    key = layer.natural_key

    def batches():  # type: ignore[no-untyped-def]
        for batch in source.batches(settings.load_batch_size):
            if key not in batch.frame.columns:  # the synthetic key of create_layer: the row number
                batch.frame[key] = range(batch.first_row, batch.first_row + len(batch.frame))
            yield batch

    def also(conn: Any) -> None:
        conn.execute(update(LayerRecord).where(LayerRecord.id == layer.id).values(lineage=lineage(url, collection,
                                                                                                  now)))

    return load_batches(batches(), layer, engine=engine, settings=settings, source_crs=source.crs, report=report,
                        if_exists="replace", also=also)


def run_due(engine: Engine, settings: Any) -> list[dict]:
    """Run every source whose next refresh is due."""
    with engine.connect() as conn:
        due = conn.scalars(select(HarvestSource.id).where(HarvestSource.next_due <= dt.datetime.now(dt.UTC))
                           .order_by(HarvestSource.next_due)).all()
    return [run_source(engine, settings, source_id) for source_id in due]


def list_sources(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(HarvestSource.__table__).order_by(HarvestSource.id)).mappings().all()
    return [dict(r) for r in rows]


def get_source(engine: Engine, source_id: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(select(HarvestSource.__table__).where(HarvestSource.id == source_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"Không có nguồn thu thập / no harvest source {source_id!r}")
    return dict(row)


def remove_source(engine: Engine, source_id: str, *, keep_layers: bool = False) -> list[str]:
    """Forget a source; its layers are unpublished too (restorable, ``sdi layers restore``) unless kept."""
    from_source = get_source(engine, source_id)["layers"]
    with engine.begin() as conn:
        conn.execute(delete(HarvestSource).where(HarvestSource.id == source_id))
    removed: list[str] = []
    if not keep_layers:
        for layer_id in from_source.values():
            try:
                unpublish(engine, layer_id)
                removed.append(layer_id)
            except NotFoundError:
                pass  # already unpublished by hand
    return removed

