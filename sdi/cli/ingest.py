"""``sdi ingest FILE... --collection C --datetime T [--platform P] [--repair]``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sdi.errors import SDIError
from sdi.settings import Settings

console = Console()
err = Console(stderr=True)
STATUS = {"ingested": "[green]đã nạp / ingested[/green]", "duplicate": "[yellow]đã có / duplicate[/yellow]",
          "resumed": "[cyan]hoàn tất / resumed[/cyan]", "failed": "[red]lỗi / failed[/red]"}


class RichSteps:
    """Each long step of an ingest as a rich progress bar (bytes, percent, or a spinner)."""
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, description: str, total: float | None = None) -> None:
        self.done()
        self.task = self.progress.add_task(description, total=total)

    def advance(self, amount: float) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)

    def update(self, completed: float) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=completed)

    def done(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None


def ingest(
    files: Annotated[list[Path] | None, typer.Argument(help="GeoTIFF files (UAV orthomosaic, multispectral, "
                                                            "Sentinel-2 stack, DEM)", show_default=False)] = None,
    collection: Annotated[str | None, typer.Option("--collection", "-c",
                                                   help="raster collection, e.g. uav_rgb, uav_multispectral, "
                                                        "sentinel2_l2a, dem (rasters/collections.yaml)")] = None,
    datetime: Annotated[str | None, typer.Option("--datetime", "-t",
                                                 help="acquisition time, ISO 8601 (no offset: UTC+7)")] = None,
    platform: Annotated[str | None, typer.Option(help="platform, e.g. 'DJI Mavic 3M', sentinel-2a")] = None,
    web_optimized: Annotated[bool, typer.Option(help="re-grid to WebMercatorQuad (default: keep the CRS)")] = False,
    repair: Annotated[bool, typer.Option(help="first finish or roll back interrupted ingests, remove files "
                                              "without rows and rows without files (of --collection only, if "
                                              "given)")] = False,
    force: Annotated[bool, typer.Option(help="with --repair: repair even when the store and the catalogue have "
                                             "nothing in common (normally a wrong SDI_RASTER_STORE or "
                                             "SDI_DATABASE_URL, refused)")] = False,
    create: Annotated[bool, typer.Option("--create", help="create --collection if it does not exist (with "
                                                          "--kind, --title-vi, --owner)")] = False,
    kind: Annotated[str | None, typer.Option(help="with --create: rgb | multispectral | sentinel2 | dem | "
                                                  "categorical (decides the COG profile)")] = None,
    title_vi: Annotated[str | None, typer.Option("--title-vi", help="with --create: Vietnamese title")] = None,
    title_en: Annotated[str | None, typer.Option("--title-en", help="with --create: English title")] = None,
    owner: Annotated[str | None, typer.Option(help="with --create: owning agency (sdi/agencies.yaml)")] = None,
    access: Annotated[str, typer.Option(help="with --create: public | internal | restricted")] = "internal",
    licence: Annotated[str, typer.Option(help="with --create: licence, e.g. CC-BY-4.0")] = "",
) -> None:
    """Nạp ảnh UAV/vệ tinh / ingest rasters: validate, COG, statistics, footprint, STAC item, register."""
    if not files and not repair:
        raise typer.BadParameter("give FILE... (with --collection and --datetime) or --repair")
    if files and (not collection or not datetime):
        raise typer.BadParameter("--collection and --datetime are required with files")
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from rasters.store import open_store
    from sdi.bootstrap import prepare_database

    settings = Settings()
    engine = prepare_database(settings)
    store = open_store(settings)
    if create and collection:
        _create(engine, collection, kind, title_vi, title_en, owner, access, licence)
    if repair:
        _repair(engine, store, [collection] if collection else None, force)
    if not files:
        return
    results = _ingest_all(files, collection, datetime, platform, web_optimized, engine, settings, store)
    console.print(_summary(results))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise typer.Exit(2)


def _create(engine, collection: str, kind: str | None, title_vi: str | None, title_en: str | None,
            owner: str | None, access: str, licence: str) -> None:
    """Create the collection unless it exists."""
    from pydantic import ValidationError

    from rasters.collections import CollectionSpec, create_collection, find_collection  # lazy: as above

    if find_collection(engine, collection) is not None:
        return
    if not (kind and title_vi and owner):
        raise typer.BadParameter("--create needs --kind, --title-vi and --owner")
    try:
        spec = CollectionSpec.model_validate(dict(
            id=collection, kind=kind, title_vi=title_vi, title_en=title_en or title_vi, description_vi="",
            description_en="", owner=owner, licence=licence, access_level=access))
    except ValidationError as exc:
        raise typer.BadParameter(f"--create: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from exc
    create_collection(engine, spec)
    console.print(f"[green]Đã tạo bộ sưu tập / created the raster collection[/green] {collection} ({kind}, {access})")


def _ingest_all(files, collection, when_text, platform, web_optimized, engine, settings, store):
    # lazy: rasterio, rio-cogeo, rio-tiler (1.3 s), for this command only
    from uav_ingest.ingest import IngestResult, ingest_file, parse_when

    when = parse_when(when_text)
    results = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TimeElapsedColumn())
    # bound to the real stderr: rio-cogeo's messages are redirected away while it converts
    with Progress(*columns, console=Console(file=sys.stderr), transient=True) as bar:
        overall = bar.add_task(f"[bold]{len(files)} tệp / files → {collection}", total=len(files))
        steps = RichSteps(bar)
        for path in files:
            try:
                result = ingest_file(path, collection_id=collection, when=when, engine=engine, settings=settings,
                                     platform=platform, web_optimized=web_optimized, steps=steps, store=store)
            except SDIError as exc:
                result = IngestResult(source=path.name, collection=collection, status="failed",
                                      message=exc.detail, code=getattr(exc, "code", None))
            steps.done()
            results.append(result)
            bar.advance(overall)
    return results


def _summary(results: list) -> Table:
    table = Table(title="Kết quả nạp ảnh / ingest summary")
    for col in ("tệp / file", "trạng thái / status", "item", "COG", "chi tiết / details"):
        table.add_column(col, overflow="fold")
    for r in results:
        details = (f"{r.width}×{r.height} px × {r.bands}, GSD {r.gsd_m:.3g} m, EPSG:{r.epsg}, {r.seconds:.1f} s; "
                   if r.width else "")
        table.add_row(r.source, STATUS.get(r.status, r.status), r.item_id or "—",
                      f"{r.cog_bytes / 1e6:,.2f} MB" if r.cog_bytes else "—",
                      details + escape((f"[{r.code}] " if r.code else "") + r.message))
    return table


def _repair(engine, store, collections: list[str] | None, force: bool = False) -> None:
    from uav_ingest.repair import repair  # lazy: as above

    with err.status("sửa chữa / repairing the raster store"):
        report = repair(engine, store, collections, force=force)
    table = Table(title="Sửa chữa kho ảnh / repair")
    table.add_column("việc / what")
    table.add_column("số / count", justify="right")
    table.add_column("mục / entries", overflow="fold")
    for name, entries in vars(report).items():
        table.add_row(name, str(len(entries)), ", ".join(entries))
    console.print(table)
