"""``sdi rasters share COLLECTION --agency CODE --read|--edit|--revoke``: raster collections, as ``sdi layers``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

console = Console()
rasters_app = typer.Typer(help="Bộ sưu tập ảnh / raster collections", no_args_is_help=True)


@rasters_app.command("share")
def share_cmd(
    collection_id: Annotated[str, typer.Argument(help="raster collection id")],
    agency: Annotated[str, typer.Option(help="agency code (sdi/agencies.yaml)")],
    read: Annotated[bool, typer.Option("--read", help="may see the collection, whatever its access level")] = False,
    edit: Annotated[bool, typer.Option("--edit", help="may see it and ingest items into it")] = False,
    revoke: Annotated[bool, typer.Option("--revoke", help="take the agency's grant back")] = False,
) -> None:
    """Chia sẻ bộ sưu tập ảnh / share a raster collection with an agency (read or edit), or take it back;
    every door (STAC, tiles, records, QGIS, web map, upload) within 1 s."""
    # lazy: the database layer only when a command runs (sdi --help stays quick)
    from rasters.collections import share_collection
    from sdi.bootstrap import prepare_database
    from sdi.settings import Settings

    if sum((read, edit, revoke)) != 1:
        raise typer.BadParameter("give one of --read, --edit, --revoke")
    row = share_collection(prepare_database(Settings()), collection_id, agency,
                           None if revoke else "edit" if edit else "read")
    console.print(f"{row.id}: {', '.join(f'{a} ({p})' for a, p in sorted(row.grants.items())) or '—'}")
