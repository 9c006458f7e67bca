"""OGC API – Processes jobs in PostgreSQL, shared by every replica.

pygeoapi's own PostgreSQL manager (``pygeoapi.process.manager.postgresql.PostgreSQLManager``) keeps
the jobs in the ``jobs`` table (``sdi.models.ProcessJob``, made by the migrations). Its results,
though, it writes to a file under ``output_dir`` — one server's disk, where another replica cannot
read them. Without an ``output_dir`` the table gets an ``output`` column, which pygeoapi 0.24 neither
fills nor reads; ``JobManager`` does both, so status *and* results of a job started on one replica are
served by any other, and survive a restart.

The result is written in the same statement as the job's ``successful`` status: a reader never sees
a finished job without its result.

A job runs in a thread of the replica that accepted it, which holds a PostgreSQL advisory lock named
by the job for as long as it runs. If that replica stops (a crash, a restart, a machine lost), the
lock goes with its connection: a job still ``accepted`` or ``running`` whose lock is free, and older
than ``ORPHAN_AFTER``, is marked ``failed`` by whichever replica is asked about it next, with a
message saying to run it again — instead of staying ``running`` for ever.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

from pygeoapi.formats import F_JSON, F_JSONLD, FORMAT_TYPES
from pygeoapi.process.base import BaseProcessor, JobResultNotFoundError
from pygeoapi.process.manager.postgresql import PostgreSQLManager
from pygeoapi.util import JobStatus, RequestedResponse
from sqlalchemy import ColumnElement, Connection, func, select, update

_JSON = (None, FORMAT_TYPES[F_JSON], FORMAT_TYPES[F_JSONLD])
_UNFINISHED = (JobStatus.accepted.value, JobStatus.running.value)
#: a job accepted this long ago whose lock nobody holds has lost its replica (the grace covers the
#: moment between accepting a job and its thread taking the lock)
ORPHAN_AFTER = dt.timedelta(seconds=30)
STOPPED = ("Máy chủ chạy tác vụ đã dừng trước khi xong; hãy chạy lại / the server running the job stopped "
           "before it finished; run it again")


def lock_key(job_id: str) -> ColumnElement[int]:
    """The advisory-lock key of a job (64 bits of a hash of its id, computed by PostgreSQL)."""
    return func.hashtextextended(job_id, 14)


def manager_config(database_url: str) -> dict:
    """The ``server.manager`` entry of the pygeoapi configuration."""
    return {"name": f"{__name__}.JobManager", "connection": database_url,
            # the views of one server share this pool (pygeoapi caches engines by their arguments)
            # a running job holds one connection (its lock) for as long as it runs
            "options": {"pool_size": 2, "max_overflow": 8}}


def _encode(mimetype: str | None, outputs: Any) -> bytes:
    if isinstance(outputs, bytes):
        return outputs
    if isinstance(outputs, str):
        return outputs.encode("utf-8")
    return json.dumps(outputs, sort_keys=True, ensure_ascii=False).encode("utf-8")


class JobManager(PostgreSQLManager):
    """pygeoapi's PostgreSQL manager, with each job's result in its row (see the module docstring)."""

    def __init__(self, manager_def: dict) -> None:
        super().__init__({**manager_def, "output_dir": None})  # no output_dir: the table has ``output``
        self._running = threading.local()  # a job runs in one thread: its own or the request's

    def update_job(self, job_id: str, update_dict: dict) -> bool:
        if (update_dict.get("status") == JobStatus.successful.value
                and getattr(self._running, "job", None) == job_id):
            self._running.final = update_dict  # written with the result, see _execute_handler_sync
            return True
        return super().update_job(job_id, update_dict)

    def _execute_handler_sync(self, p: BaseProcessor, job_id: str, data_dict: dict,
                              requested_outputs: dict | None = None, subscriber: Any = None,
                              requested_response: Any = RequestedResponse.raw.value) -> tuple[str, Any, JobStatus]:
        self._running.job, self._running.final = job_id, None
        with self._engine.connect() as held:  # this replica runs the job: see the module docstring
            held.execute(select(func.pg_advisory_lock(lock_key(job_id))))
            held.commit()
            try:
                jfmt, outputs, status = super()._execute_handler_sync(p, job_id, data_dict, requested_outputs,
                                                                      subscriber, requested_response)
                final = self._running.final
                if final is not None:
                    super().update_job(job_id, {**final, "location": None,
                                                "output": _encode(final.get("mimetype"), outputs)})
            finally:
                self._running.job = None
                held.execute(select(func.pg_advisory_unlock(lock_key(job_id))))
                held.commit()
        return jfmt, outputs, status

    # --- jobs whose replica stopped ----------------------------------------------------------------

    def get_job(self, job_id: str) -> dict:
        job = super().get_job(job_id)
        return self._settle(job) if self._maybe_orphaned(job) else job

    def get_jobs(self, status: JobStatus | None = None, limit: int | None = None,
                 offset: int | None = None) -> dict:
        found = super().get_jobs(status=status, limit=limit, offset=offset)
        found["jobs"] = [self._settle(j) if self._maybe_orphaned(j) else j for j in found["jobs"]]
        return found

    @staticmethod
    def _maybe_orphaned(job: dict) -> bool:
        created = job.get("created")
        limit = dt.datetime.now(dt.UTC).replace(tzinfo=None) - ORPHAN_AFTER  # pygeoapi's instants: naive UTC
        return job["status"] in _UNFINISHED and created is not None and created < limit

    def _settle(self, job: dict) -> dict:
        """Mark ``job`` failed if no replica holds its lock (see the module docstring); the job as it is now."""
        with self._engine.connect() as conn:
            if not conn.execute(select(func.pg_try_advisory_lock(lock_key(job["identifier"])))).scalar():
                conn.commit()
                return job  # running on some replica
            try:
                self._fail(conn, job["identifier"])
            finally:
                conn.execute(select(func.pg_advisory_unlock(lock_key(job["identifier"]))))
                conn.commit()
        return super().get_job(job["identifier"])

    def _fail(self, conn: Connection, job_id: str) -> None:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        conn.execute(update(self.table_model)
                     .where(self.c.identifier == job_id, self.c.status.in_(_UNFINISHED))
                     .values(status=JobStatus.failed.value, message=STOPPED, finished=now, updated=now))
        conn.commit()

    def get_job_result(self, job_id: str) -> tuple[str | None, Any] | tuple[None]:
        job = self.get_job(job_id)
        if JobStatus[job["status"]] != JobStatus.successful:
            return (None,)  # pygeoapi's own answer for an unfinished job
        output, mimetype = job.get("output"), job.get("mimetype")
        if output is None:
            raise JobResultNotFoundError()
        if mimetype in _JSON:
            return mimetype, json.loads(bytes(output))
        return mimetype, bytes(output)

    def __repr__(self) -> str:
        return f"<JobManager> {self.name}"
