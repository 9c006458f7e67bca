"""``sdi serve``: uvicorn, one process or ``--workers N``, with the metrics of all workers merged."""

from __future__ import annotations

import os
import shutil
import socket
from ipaddress import ip_address
from typing import Annotated

import typer
from rich.console import Console

from sdi import logs
from sdi.settings import Settings

console = Console(stderr=True)


def serve(
    host: Annotated[str | None, typer.Option(help="bind address (:: for IPv6 and IPv4)")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (default SDI_WORKERS, 1)", min=1)] = None,
    reload: Annotated[bool, typer.Option(help="reload on code change (development)")] = False,
) -> None:
    """Serve the platform over HTTP (FastAPI + uvicorn)."""
    import uvicorn  # lazy: only this command serves (`sdi --help` stays quick)
    from uvicorn.supervisors import Multiprocess

    # The app factory reads Settings itself (in each worker): pass the address on so links name the real port.
    if host:
        os.environ["SDI_HOST"] = host
    if port:
        os.environ["SDI_PORT"] = str(port)
    s = Settings()
    workers = workers or s.workers
    if workers > 1:
        _metrics_dir(s)
    if s.log_format == "text":  # JSON logs: every line a JSON object (uvicorn says where it listens)
        console.print(f"Phục vụ tại / serving on {s.base_url} ({workers} worker{'s' if workers > 1 else ''})")
    config = uvicorn.Config("api.app:create_app", factory=True, host=s.host, port=s.port, workers=workers,
                            reload=reload, log_level=s.log_level.lower(),
                            log_config=logs.server_config(s.log_level, s.log_format),
                            # h11, not httptools: httptools lowercases every response header name, and QGIS
                            # 3.40.6 needs a created feature's ``Location`` spelt so (api.ogc.gateway)
                            http="h11",
                            # SIGTERM: stop accepting, let requests in flight finish (at most this long)
                            timeout_graceful_shutdown=s.graceful_timeout_s)
    if reload:  # development: uvicorn's own reloader
        uvicorn.run(config.app, factory=True, host=s.host, port=s.port, reload=True, log_config=config.log_config)
        return
    sock = listen(s.host, s.port)  # Settings: bare host, [::1] → ::1
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


def listen(host: str, port: int) -> socket.socket:
    """The listening socket. An IPv6 address gets an IPv6 socket; ``::`` (every address) also takes IPv4
    (``IPV6_V6ONLY`` off, whatever the system's default: asyncio would turn it on)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if ip_address(host).is_unspecified else 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"Không nghe được / cannot listen on {host} port {port}: {exc.strerror}") from exc
    sock.set_inheritable(True)  # the workers serve on it
    return sock


def _metrics_dir(s: Settings) -> None:
    """prometheus-client's multiprocess mode: the workers (new interpreters, started by uvicorn with this
    environment) write their values under the state dir, one folder per port, emptied at each start.
    One process keeps its values in memory (prometheus-client picks the mode when it is imported)."""
    from sdi import metrics  # lazy: prometheus-client and SQLAlchemy only when serving

    path = s.state_dir / "prometheus" / str(s.port)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[metrics.MULTIPROC_ENV] = str(path)
