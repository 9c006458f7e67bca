"""``sdi layers``: list, load, validate and export layers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from layers.quality import DIMENSION_VI, ValidationReport
from sdi.settings import Settings

if TYPE_CHECKING:  # the loader (pandas, geopandas) is imported by the commands that load
    from layers.loader import IfExists

layers_app = typer.Typer(help="Lớp dữ liệu / layers: list, load, validate, export", no_args_is_help=True)
console = Console()


def _context():
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from layers.catalog import load_catalog
    from sdi.bootstrap import prepare_database

    settings = Settings()
    engine = prepare_database(settings)
    return settings, engine, load_catalog(engine)


@layers_app.command("list")
def list_layers(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Every layer with its feature count and metadata."""
    _, _, catalog = _context()
    if as_json:
        typer.echo(json.dumps([layer.model_dump(mode="json") for layer in catalog.values()], ensure_ascii=False))
        return
    table = Table(title="Danh mục lớp dữ liệu / layer catalogue")
    for col in ("id", "tên / title", "đối tượng / features", "hình học / geometry", "truy cập / access",
                "đơn vị / owner", "giấy phép / licence", "cập nhật / updated"):
        table.add_column(col, overflow="fold")
    for layer in catalog.values():
        table.add_row(layer.id, f"{layer.title_vi}\n[dim]{layer.title_en}[/dim]", f"{layer.feature_count:,}",
                      ",".join(layer.geometry) or "—", layer.access_level, layer.owner_agency, layer.licence,
                      f"{layer.last_updated:%Y-%m-%d %H:%M}" if layer.last_updated else "—")
    console.print(table)


def _run_load(layer_id: str, path: Path, *, crs: str | None, source_layer: str | None,
              if_exists: IfExists, dry_run: bool) -> ValidationReport:
    from layers.catalog import get_layer  # lazy: as in _context
    from layers.loader import load_vector  # lazy: geopandas, pyogrio (1.5 s), for the loading commands only

    settings, engine, catalog = _context()
    layer = get_layer(catalog, layer_id)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"{'validate' if dry_run else 'load'} {path.name} → {layer.id}", total=None)
        return load_vector(path, layer, engine=engine, settings=settings, crs=crs,
                           source_layer=source_layer, if_exists=if_exists, dry_run=dry_run,
                           progress=lambda n: bar.advance(task, n))


CrsOpt = Annotated[str | None, typer.Option("--crs", help="CRS when the file has none, e.g. EPSG:9215")]
SourceLayerOpt = Annotated[str | None, typer.Option("--source-layer", help="layer inside a GeoPackage/KML")]
ReportOpt = Annotated[Path | None, typer.Option("--report", help="also write the report as JSON here")]


@layers_app.command("load")
def load(
    layer_id: Annotated[str, typer.Argument(help="layer id, see `sdi layers list`")],
    path: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, zipped Shapefile, CSV (lon/lat), KML")],
    crs: CrsOpt = None, source_layer: SourceLayerOpt = None,
    if_exists: Annotated[str, typer.Option(help="upsert | replace | fail")] = "upsert",
    report_path: ReportOpt = None,
) -> None:
    """Validate and load a file into a layer, all or nothing."""
    if if_exists not in ("upsert", "replace", "fail"):
        raise typer.BadParameter("--if-exists must be upsert, replace or fail")
    report = _run_load(layer_id, path, crs=crs, source_layer=source_layer,
                       if_exists=if_exists, dry_run=False)  # type: ignore[arg-type]
    _write_report(report, report_path)
    print_report(report)


@layers_app.command("validate")
def validate(
    layer_id: Annotated[str, typer.Argument(help="layer id")],
    path: Annotated[Path, typer.Argument(help="the file to check")],
    crs: CrsOpt = None, source_layer: SourceLayerOpt = None, report_path: ReportOpt = None,
) -> None:
    """The validation report of a file, without loading it."""
    report = _run_load(layer_id, path, crs=crs, source_layer=source_layer, if_exists="upsert", dry_run=True)
    _write_report(report, report_path)
    print_report(report)
    console.print("[green]Đạt / passed[/green]: nothing written (validate only)")


@layers_app.command("create")
def create(
    layer_id: Annotated[str, typer.Argument(help="the new layer's id, e.g. diem_du_lich (a-z, 0-9, _)")],
    path: Annotated[Path, typer.Argument(help="GeoPackage, zipped Shapefile, GeoJSON, CSV, KML/KMZ, FlatGeobuf")],
    title_vi: Annotated[str, typer.Option("--title-vi", help="tên lớp tiếng Việt / Vietnamese title")],
    owner: Annotated[str, typer.Option(help="owning agency code (sdi/agencies.yaml): its staff may edit")],
    title_en: Annotated[str, typer.Option("--title-en", help="English title")] = "",
    access: Annotated[str, typer.Option(help="public | internal | restricted")] = "internal",
    key: Annotated[str | None, typer.Option(help="the file's unique key column (default: the row number)")] = None,
    abstract_vi: Annotated[str, typer.Option("--abstract-vi", help="tóm tắt / Vietnamese abstract")] = "",
    abstract_en: Annotated[str, typer.Option("--abstract-en", help="English abstract")] = "",
    licence: Annotated[str, typer.Option(help="licence, e.g. CC-BY-4.0")] = "",
    crs: CrsOpt = None, source_layer: SourceLayerOpt = None, report_path: ReportOpt = None,
) -> None:
    """Xuất bản lớp mới / publish a new layer from a file: schema inferred, table created, rows validated."""
    from layers.publish import create_layer  # lazy: geopandas, pyogrio (1.5 s), for this command only

    if access not in ("public", "internal", "restricted"):
        raise typer.BadParameter("--access must be public, internal or restricted")
    settings, engine, _ = _context()
    layer, report = create_layer(path, layer_id, engine=engine, settings=settings, title_vi=title_vi,
                                 title_en=title_en, owner=owner, access_level=access,  # type: ignore[arg-type]
                                 abstract_vi=abstract_vi, abstract_en=abstract_en, licence=licence, key=key,
                                 crs=crs, source_layer=source_layer)
    _write_report(report, report_path)
    print_report(report)
    console.print(f"[green]Đã xuất bản / published[/green] {layer.id} ({layer.access_level}, "
                  f"{', '.join(layer.geometry)}): {report.counts.inserted:,} features, columns "
                  f"{', '.join(c.name for c in layer.columns or [])}")


@layers_app.command("delete")
def delete(layer_id: Annotated[str, typer.Argument(help="a published layer's id")]) -> None:
    """Gỡ lớp đã xuất bản / unpublish a layer: off every door at once, kept in the trash (SDI_TRASH_DAYS)."""
    from layers.trash import unpublish  # lazy: as in _context

    _, engine, _ = _context()
    trash = unpublish(engine, layer_id)
    console.print(f"Đã gỡ / unpublished {layer_id}; khôi phục được / restorable with `sdi layers restore "
                  f"{layer_id}` (kept as trash.{trash})")


@layers_app.command("restore")
def restore(layer_id: Annotated[str, typer.Argument(help="an unpublished layer's id")]) -> None:
    """Khôi phục lớp đã gỡ / restore the most recently unpublished layer of this id, as it was."""
    from layers.trash import restore as restore_layer  # lazy: as in _context

    _, engine, _ = _context()
    layer = restore_layer(engine, layer_id)
    console.print(f"[green]Đã khôi phục / restored[/green] {layer.id}: {layer.feature_count:,} features")


@layers_app.command("purge")
def purge(days: Annotated[float | None, typer.Option(help="older than this many days (default SDI_TRASH_DAYS)")]
          = None) -> None:
    """Xoá hẳn lớp đã gỡ quá hạn / drop unpublished layers kept longer than SDI_TRASH_DAYS."""
    from layers.trash import purge as purge_trash  # lazy: as in _context

    settings, engine, _ = _context()
    gone = purge_trash(engine, settings.trash_days if days is None else days)
    console.print(f"Đã xoá hẳn / purged {len(gone)}: {', '.join(gone) or '—'}")


@layers_app.command("share")
def share_cmd(
    layer_id: Annotated[str, typer.Argument(help="layer id")],
    agency: Annotated[str, typer.Option(help="agency code (sdi/agencies.yaml)")],
    read: Annotated[bool, typer.Option("--read", help="may see the layer, whatever its access level")] = False,
    edit: Annotated[bool, typer.Option("--edit", help="may see and edit its features")] = False,
    revoke: Annotated[bool, typer.Option("--revoke", help="take the agency's grant back")] = False,
) -> None:
    """Chia sẻ lớp / share a layer with an agency (read or edit), or take it back; every door within 1 s."""
    from layers.sharing import share  # lazy: as in _context

    if sum((read, edit, revoke)) != 1:
        raise typer.BadParameter("give one of --read, --edit, --revoke")
    _, engine, _ = _context()
    layer = share(engine, layer_id, agency, None if revoke else "edit" if edit else "read")
    console.print(f"{layer.id}: {', '.join(f'{a} ({p})' for a, p in sorted(layer.grants.items())) or '—'}")


@layers_app.command("export")
def export(
    layer_id: Annotated[str, typer.Argument(help="layer id")],
    path: Annotated[Path, typer.Argument(help="output .geojson or .gpkg")],
    overwrite: Annotated[bool, typer.Option(help="replace an existing file")] = False,
) -> None:
    """Write a layer to GeoJSON or GeoPackage."""
    from layers.catalog import get_layer  # lazy: as in _context
    from layers.export import export_layer  # lazy: geopandas, for this command only

    _, engine, catalog = _context()
    count = export_layer(engine, get_layer(catalog, layer_id), path, overwrite=overwrite)
    console.print(f"Đã xuất / exported {count:,} features → {path}")


def _write_report(report: ValidationReport, path: Path | None) -> None:
    if path is not None:
        path.write_text(report.model_dump_json(indent=2), encoding="utf-8")


def print_report(report: ValidationReport, *, stream: Console = console) -> None:
    """A validation report as a table: one row per kind of issue."""
    table = Table(title=f"Báo cáo kiểm tra / validation report: {report.layer} ← {report.source}")
    for col in ("tiêu chí / check", "mức / severity", "mã / code", "số / count", "dòng / rows", "mô tả / message"):
        table.add_column(col, overflow="fold")
    for issue in report.issues:
        colour = {"error": "red", "warning": "yellow", "note": "cyan"}[issue.severity]
        table.add_row(f"{DIMENSION_VI[issue.dimension]} / {issue.dimension}", f"[{colour}]{issue.severity}[/]",
                      issue.code, str(issue.count), ", ".join(map(str, issue.rows[:5])), issue.message)
    stream.print(table)
    c = report.counts
    stream.print(f"đọc/read {c.read} · thêm/inserted {c.inserted} · cập nhật/updated {c.updated} · "
                 f"sửa/repaired {c.repaired} · loại/rejected {c.rejected}")
