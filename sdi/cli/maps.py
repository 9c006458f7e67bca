"""``sdi map export LAYER... --out map.html``: a static folium map (see ``layers.mapexport``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sdi.settings import Settings

map_app = typer.Typer(help="Bản đồ tĩnh / static maps (folium) for reports and notebooks", no_args_is_help=True)


@map_app.command("export")
def export(
    layers: Annotated[list[str], typer.Argument(help="layer ids, e.g. admin_units pilot_sites")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the HTML file to write")] = Path("map.html"),
    simplify: Annotated[float, typer.Option(help="simplify geometry to this many metres (0: none)")] = 10.0,
    osm: Annotated[bool, typer.Option("--osm", help="add an OpenStreetMap base map (outside tiles)")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace OUT if it exists")] = False,
) -> None:
    """Xuất bản đồ tĩnh / write a static HTML map (folium) of the chosen layers."""
    from layers.mapexport import build_map  # lazy: folium and geopandas, for this command only

    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from sdi.database import make_engine, translate_db_errors

    if out.exists() and not overwrite:
        raise typer.BadParameter(f"{out} đã có / exists (use --overwrite)")
    engine = make_engine(Settings())
    try:
        with translate_db_errors():
            html = build_map(engine, layers, simplify_m=simplify, osm=osm)
    finally:
        engine.dispose()
    out.write_text(html, encoding="utf-8")
    typer.echo(f"{out}: {len(layers)} lớp / layers, {out.stat().st_size / 1024:.0f} KiB")
