"""One settings class for the whole platform (environment prefix ``SDI_``)."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path
from typing import Literal

from limits import parse
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository root: bundled data and the embedded cluster live under it.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: the route families rate limits are set for (matched by ``sdi.ratelimit.FAMILIES``)
RATE_FAMILIES = ("tiles", "ogc_items", "stac_search", "other")


class Settings(BaseSettings):
    """Platform settings, read from ``SDI_*`` environment variables or ``.env``.

    When ``database_url`` is unset the project runs its own embedded PostGIS
    cluster under ``state_dir`` (see :mod:`sdi.cluster`).
    """

    database_url: str | None = Field(
        default=None,
        description="External PostGIS, e.g. postgresql://user:pw@host:5432/sdi. "
        "Unset: use the embedded cluster under state_dir.",
    )
    state_dir: Path = PROJECT_ROOT / ".sdi"
    data_dir: Path = PROJECT_ROOT / "data"
    pg_port: int = Field(default=55432, ge=1024, le=65535)
    pg_bin_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    #: ``sdi serve``'s log lines: ``text``, or ``json`` (one object per line, for a log collector)
    log_format: Literal["text", "json"] = "text"
    #: the server's database queries are cancelled after this long (0: no limit); a 503 problem says so
    statement_timeout_ms: int = Field(default=30_000, ge=0)
    #: anonymous callers' rate limits by route family (sdi.ratelimit: tiles, ogc_items, stac_search,
    #: other), in the ``limits`` notation ("600/minute", "20/second"); a family left out is not limited
    rate_limits: dict[str, str] = {"tiles": "1200/minute", "ogc_items": "300/minute", "stac_search": "120/minute"}
    #: keyed callers (staff) are limited too
    rate_limit_keyed: bool = False
    #: where the windows are counted: database (the SDI's PostgreSQL, shared by workers and replicas),
    #: memory:// (per worker process), or redis://… / memcached://… (shared)
    rate_limit_storage: str = "database"
    #: on SIGTERM, requests in flight get this long to finish (uvicorn's timeout_graceful_shutdown)
    graceful_timeout_s: int = Field(default=30, gt=0)
    #: uvicorn worker processes of ``sdi serve`` (``--workers``); metrics are merged across them
    workers: int = Field(default=1, ge=1, le=64)
    #: The address clients use to reach the server (behind a proxy: its public URL).
    public_url: str | None = Field(default=None, description="default: the address of each request")
    #: OGC API items: page size by default and at most (QGIS and GDAL page by the maximum).
    ogc_default_items: int = Field(default=100, gt=0)
    ogc_max_items: int = Field(default=10_000, gt=0)
    #: Layers with more features than this skip the exact COUNT on each page (numberMatched).
    ogc_count_threshold: int = Field(default=20_000, ge=0)
    #: Largest request body accepted by the OGC API (features created or replaced, CQL2 JSON).
    ogc_max_body_bytes: int = Field(default=16 * 1024**2, gt=0)
    #: Files larger than this are refused before any byte is parsed.
    max_load_bytes: int = Field(default=4 * 1024**3, gt=0)
    #: Layer files uploaded over HTTP (``POST /layers``) larger than this are refused as they stream in.
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0)
    #: Unpublished layers stay restorable this many days (``sdi layers purge`` drops older ones).
    trash_days: float = Field(default=30.0, ge=0)
    #: Features read per batch: bounds memory whatever the file size.
    load_batch_size: int = Field(default=20_000, gt=0)
    #: Features may stick out of the province by this much (GPS noise, generalised outlines).
    province_tolerance_m: float = Field(default=1000.0, ge=0)
    #: where ingested COGs live: a local folder, or ``s3://bucket/prefix`` with the S3 settings
    raster_store: str = str(PROJECT_ROOT / ".sdi" / "rasters")
    s3_endpoint_url: str | None = None  # e.g. http://127.0.0.1:9000 for MinIO
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None
    #: ingest refuses rasters above these sizes (absurd dimensions or files)
    max_raster_pixels: int = Field(default=100_000 * 100_000, gt=0)
    max_raster_bytes: int = Field(default=50 * 1024**3, gt=0)
    #: Dask scheduler for change detection (``sdi change detect``, the forest-change process), e.g.
    #: tcp://dask-scheduler:8786: its workers compute the windows, reading the rasters themselves
    #: (same paths or S3 store); unset: the local cores (threads)
    dask_scheduler: str | None = None
    #: hosts a harvest source may be on although they resolve to loopback or private addresses (SSRF guard
    #: of ``layers.harvest_fetch``), e.g. '["gis.internal.langson.gov.vn", "10.0.0.5"]'; empty: public hosts only
    harvest_allow_hosts: list[str] = []
    #: a harvest source's requests give up after this long (the previous copy stays served)
    harvest_timeout_s: int = Field(default=60, gt=0)
    forest_sample_target: int = Field(default=40_000, ge=0)
    forest_sample_seed: int = 2026

    model_config = SettingsConfigDict(
        env_prefix="SDI_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, value: str | None) -> str | None:
        """Accept plain ``postgresql://`` URLs and pin the psycopg 3 driver."""
        if value is None or value == "":
            return None
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        if not value.startswith("postgresql+psycopg://"):
            raise ValueError("SDI_DATABASE_URL must be a postgresql:// URL")
        return value

    @field_validator("rate_limits")
    @classmethod
    def _known_limits(cls, value: dict[str, str]) -> dict[str, str]:
        """Each family known and each limit in the ``limits`` notation, said at start-up."""
        for family, limit in value.items():
            if family not in RATE_FAMILIES:
                raise ValueError(f"SDI_RATE_LIMITS: unknown route family {family!r}; known: "
                                 f"{', '.join(RATE_FAMILIES)}")
            try:
                parse(limit)
            except ValueError as exc:
                raise ValueError(f"SDI_RATE_LIMITS[{family!r}]: {limit!r} is not a limit such as '600/minute'"
                                 ) from exc
        return value

    @field_validator("host")
    @classmethod
    def _bare_host(cls, value: str) -> str:
        """``[::1]`` and ``::1`` are the same bind address."""
        return value.strip().removeprefix("[").removesuffix("]")

    @property
    def base_url(self) -> str:
        """Where clients reach the server when no request says it (pygeoapi's configuration, the
        commands): ``public_url``, else ``http://host:port`` with an IPv6 host in brackets and an
        unspecified bind address (``0.0.0.0``, ``::``, not a host to connect to) as the loopback one.
        Routes answering a request use ``link_base`` instead."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host
        try:
            ip = ip_address(host)
        except ValueError:  # a host name
            return f"http://{host}:{self.port}"
        if ip.is_unspecified:
            host = "::1" if ip.version == 6 else "127.0.0.1"
        return f"http://[{host}]:{self.port}" if ip.version == 6 else f"http://{host}:{self.port}"

    def link_base(self, request_base: str) -> str:
        """The base of the links in an answer: ``public_url`` (behind a proxy), else the base URL the
        request came to (``str(request.base_url)``: the scheme and ``Host`` it used, IPv6 in brackets)."""
        return (self.public_url or request_base).rstrip("/")

    @property
    def embedded(self) -> bool:
        """True when the project manages its own PostGIS cluster."""
        return self.database_url is None
