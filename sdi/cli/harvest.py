"""``sdi harvest``: other agencies' OGC API Features / WFS 2.0 services copied into layers (``layers.harvest``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from sdi.settings import Settings

harvest_app = typer.Typer(help="Thu thập dữ liệu từ dịch vụ khác / harvest other agencies' OGC services",
                          no_args_is_help=True)
console = Console()


def _context():  # type: ignore[no-untyped-def]
    # lazy: the database layer and GDAL only when a command runs (as sdi.cli.layers)
    from sdi.bootstrap import prepare_database

    settings = Settings()
    return settings, prepare_database(settings)


def _show(source: dict) -> None:
    state = "[green]ok[/green]" if not source["last_error"] else f"[red]lỗi / error[/red]: {source['last_error']}"
    due = source["next_due"].isoformat(timespec="seconds") if source["next_due"] else "on demand"
    console.print(f"{source['id']:<12} {source['kind']:<6} {source['url']}  agency={source['agency']} "
                  f"access={source['access_level']} next={due}  {state}")
    for collection, layer_id in source["layers"].items():
        outcome = source["status"].get(collection, {})
        console.print(f"    {collection} → {layer_id}  {outcome.get('features', '')}")


@harvest_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="the service: an OGC API Features landing page or a WFS 2.0 endpoint")],
    agency: Annotated[str, typer.Option(help="owning agency code of the harvested layers (sdi/agencies.yaml)")]
    = "ubnd",
    access: Annotated[str, typer.Option(help="public | internal | restricted")] = "internal",
    collections: Annotated[str | None, typer.Option(help="comma-separated collection ids (default: all)")] = None,
    every: Annotated[str | None, typer.Option(help="refresh interval, e.g. 1d, 6h, 30min (sdi harvest run --due)")]
    = None,
    source_id: Annotated[str | None, typer.Option("--id", help="the source's short id (default: from the host)")]
    = None,
) -> None:
    """Đăng ký nguồn / register a service: its collections published as layers hv_<source>_<collection>."""
    from layers.harvest import add_source

    settings, engine = _context()
    chosen = [c.strip() for c in collections.split(",") if c.strip()] if collections else None
    source = add_source(engine, settings, url, agency=agency, access_level=access, collections=chosen,
                        every=every, source_id=source_id)
    console.print(f"[green]Đã đăng ký / registered[/green] {source['id']}: {', '.join(source['layers'].values())}")
    _show(source)


@harvest_app.command("run")
def run(
    source_id: Annotated[str | None, typer.Argument(help="one source (default: all)")] = None,
    due: Annotated[bool, typer.Option("--due", help="only the sources whose interval has passed (for cron)")]
    = False,
) -> None:
    """Làm mới / refresh: each layer replaced in one transaction; a failing source keeps its previous copy."""
    from layers.harvest import list_sources, run_due, run_source

    settings, engine = _context()
    if due:
        results = run_due(engine, settings)
    else:
        ids = [source_id] if source_id else [s["id"] for s in list_sources(engine)]
        results = [run_source(engine, settings, i) for i in ids]
    for source in results:
        _show(source)
    if any(s["last_error"] for s in results):
        raise typer.Exit(1)


@harvest_app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Các nguồn đã đăng ký / registered sources, their layers and last outcome."""
    from layers.harvest import list_sources

    _, engine = _context()
    sources = list_sources(engine)
    if as_json:
        typer.echo(json.dumps(sources, default=str, ensure_ascii=False, indent=2))
        return
    for source in sources:
        _show(source)


@harvest_app.command("remove")
def remove(source_id: Annotated[str, typer.Argument(help="the source's id")],
           keep_layers: Annotated[bool, typer.Option(help="keep its layers published (no longer refreshed)")]
           = False) -> None:
    """Gỡ nguồn / remove a source; its layers are unpublished (restorable) unless --keep-layers."""
    from layers.harvest import remove_source

    _, engine = _context()
    removed = remove_source(engine, source_id, keep_layers=keep_layers)
    console.print(f"Đã gỡ / removed {source_id}; layers unpublished: {', '.join(removed) or '—'}")
