"""Engine and sessions; the one place that turns driver errors into domain errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy.exc
from psycopg.errors import QueryCanceled
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from sdi.cluster import Cluster
from sdi.errors import QUERY_TIMEOUT, DatabaseError, InvalidInputError, QueryTimeoutError
from sdi.settings import Settings

logger = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL: ``SDI_DATABASE_URL`` or the embedded cluster's."""
    if settings.database_url is not None:
        return settings.database_url

    return Cluster(settings).info().url()


def make_engine(settings: Settings, *, url: str | None = None, statement_timeout_ms: int | None = None) -> Engine:
    """A pooled engine for the configured database. ``statement_timeout_ms`` (the server's engine:
    ``SDI_STATEMENT_TIMEOUT_MS``) is set on each of its connections: PostgreSQL cancels a query running
    longer, waiting for a lock included, so one costly request cannot hold a connection and stall the
    others. Commands (loads, ingests, migrations) run without a limit."""
    connect_args: dict[str, object] = {"application_name": "langson-sdi", "connect_timeout": 10}
    if statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={int(statement_timeout_ms)}"
    return create_engine(
        url or database_url(settings),
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args=connect_args,
    )


@contextmanager
def translate_db_errors() -> Iterator[None]:
    """Map driver errors to ``SDIError``s (stac-fastapi-pgstac ``translate_pgstac_errors``)."""
    try:
        yield
    except sqlalchemy.exc.IntegrityError as exc:
        raise InvalidInputError(f"Vi phạm ràng buộc dữ liệu / constraint violated: {exc.orig}") from exc
    except sqlalchemy.exc.DataError as exc:
        raise InvalidInputError(f"Giá trị không hợp lệ / invalid value: {exc.orig}") from exc
    except sqlalchemy.exc.OperationalError as exc:
        if isinstance(exc.orig, QueryCanceled):
            raise QueryTimeoutError(QUERY_TIMEOUT) from exc
        logger.error("database unavailable", exc_info=exc)
        raise DatabaseError("Cơ sở dữ liệu không phản hồi / the database is not reachable") from exc


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A transaction: commit on success, roll back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with translate_db_errors(), factory() as session, session.begin():
        yield session
