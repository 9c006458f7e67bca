"""``sdi backup DIR [--verify]`` and ``sdi restore DIR [--force]``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from sdi.settings import Settings

if TYPE_CHECKING:
    from ops.manifest import Manifest

console = Console()


def _summary(manifest: Manifest) -> str:
    rows = sum(manifest.tables.values())
    return (f"{len(manifest.tables)} bảng / tables, {rows} dòng / rows, {len(manifest.cogs)} COG, "
            f"{manifest.stac_items} STAC, {len(manifest.files)} tệp / files "
            f"(schema {manifest.schema_revision}, PostgreSQL {manifest.server_version}, {manifest.created_at})")


def backup(
    folder: Annotated[Path, typer.Argument(help="a new (or empty) folder for this backup")],
    verify: Annotated[bool, typer.Option("--verify", help="check an existing backup instead "
                                                          "(every checksum, the dump readable)")] = False,
) -> None:
    """Sao lưu / back up the database, the COG store, the STAC items and the settings (server may run)."""
    # lazy: the database layer (SQLAlchemy, psycopg, boto3 for S3) only when a command runs (`sdi --help` stays fast)
    from ops import manifest as mf
    from ops import postgres
    from ops.backup import backup as make_backup

    settings = Settings()
    if verify:
        manifest = mf.verify(folder, postgres.tool(settings, "pg_restore"))
        console.print(f"[green]Bản sao lưu hợp lệ / backup OK[/green]: {folder}: {_summary(manifest)}")
        return
    manifest = make_backup(settings, folder, say=console.print)
    console.print(f"[green]Đã sao lưu / backed up[/green] to {folder}: {_summary(manifest)}")


def restore(
    folder: Annotated[Path, typer.Argument(help="a backup folder written by `sdi backup`")],
    force: Annotated[bool, typer.Option("--force", help="replace an installation that holds data: its tables, "
                                                        "schemas and PostGIS are dropped first, COGs of the "
                                                        "same keys overwritten")] = False,
) -> None:
    """Khôi phục / restore a backup into an empty installation (database and store of the settings)."""
    # lazy: the database layer only when a command runs (`sdi --help` stays fast)
    from ops.restore import restore as run_restore

    manifest = run_restore(Settings(), folder, force=force, say=console.print)
    console.print(f"[green]Đã khôi phục / restored[/green] from {folder}: {_summary(manifest)}")
