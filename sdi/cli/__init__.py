"""The ``sdi`` command line. Commands parse, call a library function and print."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sdi import logs
from sdi.cli.backup import backup, restore
from sdi.cli.change import change_app
from sdi.cli.harvest import harvest_app
from sdi.cli.ingest import ingest
from sdi.cli.layers import layers_app, print_report
from sdi.cli.maps import map_app
from sdi.cli.rasters import rasters_app
from sdi.cli.serve import serve
from sdi.errors import SDIError, ValidationFailedError
from sdi.settings import Settings

app = typer.Typer(help="Hạ tầng dữ liệu không gian tỉnh Lạng Sơn / Lạng Sơn SDI", no_args_is_help=True)
db_app = typer.Typer(help="Cơ sở dữ liệu PostGIS / the PostGIS database", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(layers_app, name="layers")
users_app = typer.Typer(help="Khoá truy cập API / API keys of agency staff", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(map_app, name="map")
app.add_typer(rasters_app, name="rasters")
app.add_typer(change_app, name="change")
app.add_typer(harvest_app, name="harvest")
app.command()(ingest)
app.command()(serve)
app.command()(backup)
app.command()(restore)
console = Console()
err = Console(stderr=True)
logger = logging.getLogger("sdi")


def settings() -> Settings:
    return Settings()


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    logs.configure("DEBUG" if verbose else settings().log_level)


@app.command()
def up(force: Annotated[bool, typer.Option(help="reload bundled data even if unchanged")] = False) -> None:
    """Start the database, migrate, load the bundled data (idempotent)."""
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from sdi.bootstrap import bring_up

    _, results = bring_up(settings(), force=force)
    for layer_id, report in results.items():
        status = "unchanged" if report is None else f"+{report.counts.inserted} ~{report.counts.updated}"
        console.print(f"  {layer_id:<20} {status}")
    console.print("[green]Sẵn sàng / ready[/green]")


@db_app.command("start")
def db_start() -> None:
    """Initialise (first time) and start the embedded PostGIS cluster."""
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from sdi.cluster import Cluster

    s = _embedded_only()
    info = Cluster(s).ensure_running()
    console.print(f"PostGIS chạy tại / running on 127.0.0.1:{info.port} ({s.state_dir / 'pgdata'})")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostGIS cluster."""
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from sdi.cluster import Cluster

    stopped = Cluster(_embedded_only()).stop()
    console.print("Đã dừng / stopped" if stopped else "Không chạy / was not running")


@db_app.command("status")
def db_status() -> None:
    """Say where the database is, whether it answers, and its schema revision."""
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from sdi import migrate
    from sdi.cluster import Cluster
    from sdi.database import make_engine, translate_db_errors

    s = settings()
    if s.embedded:
        cluster = Cluster(s)
        if not cluster.initialised:
            console.print("Chưa khởi tạo / not initialised: run `sdi db start`")
            raise typer.Exit(1)
        running = cluster.running()
        info = cluster.info()
        console.print(f"embedded cluster {cluster.pgdata}, 127.0.0.1:{info.port}: "
                      f"{'running' if running else 'stopped'}")
        if not running:
            raise typer.Exit(1)
    engine = make_engine(s)
    with translate_db_errors():
        console.print(f"database {engine.url.render_as_string(hide_password=True)}: "
                      f"schema revision {migrate.current(engine) or 'none'}")


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply the Alembic migrations and write the layer catalogue."""
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from sdi.bootstrap import prepare_database

    prepare_database(settings())
    console.print("Lược đồ đã cập nhật / schema up to date")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="who holds the key, e.g. nguyen.van.a@kiemlam")],
    agency: Annotated[str, typer.Option(help="agency code (sdi/agencies.yaml), e.g. kiemlam, bdbp")],
    role: Annotated[str, typer.Option(help="agency | border | admin")] = "agency",
) -> None:
    """Create an API key; it is printed once, only its digest is stored."""
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from sdi.access import add_key
    from sdi.database import make_engine, translate_db_errors

    with translate_db_errors():
        key = add_key(make_engine(settings()), name, agency, role)
    err.print(f"Khoá cho / key for {name} ({agency}, {role}); lưu lại ngay, không hiển thị lại / "
              "store it now, it is not shown again:")
    print(key)


@users_app.command("list")
def users_list() -> None:
    """List keys (names, agencies, roles, prefixes; never secrets)."""
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from sdi.access import list_keys
    from sdi.database import make_engine, translate_db_errors



    with translate_db_errors():
        keys = list_keys(make_engine(settings()))
    table = Table("name", "agency", "role", "prefix", "created", "last used", "revoked")
    for k in keys:
        table.add_row(k.name, k.agency, k.role, f"sdi_{k.prefix}_…", f"{k.created_at:%Y-%m-%d %H:%M}",
                      f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "—",
                      f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "")
    console.print(table)


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="the key's name")]) -> None:
    """Revoke a key: it stops working at once."""
    # lazy: the database layer (SQLAlchemy ORM, GeoAlchemy2, Alembic: ~1 s) only when a command runs
    from sdi.access import revoke_key
    from sdi.database import make_engine, translate_db_errors

    with translate_db_errors():
        revoke_key(make_engine(settings()), name)
    console.print(f"Đã thu hồi / revoked: {name}")


def _embedded_only() -> Settings:
    s = settings()
    if not s.embedded:
        err.print("SDI_DATABASE_URL is set: the database is external, not managed here")
        raise typer.Exit(2)
    return s


def run() -> None:
    """Entry point: domain errors become a clear message and a non-zero exit."""
    try:
        app()
    except ValidationFailedError as exc:
        print_report(exc.report, stream=err)
        err.print(f"[red]{exc.title}[/red]: {exc.detail}")
        sys.exit(2)
    except SDIError as exc:
        err.print(f"[red]{exc.title}[/red]: {exc.detail}")
        sys.exit(2 if exc.status < 500 else 1)

