"""OGC API – Processes jobs in PostgreSQL, shared by every replica.

pygeoapi's own PostgreSQL manager (``pygeoapi.process.manager.postgresql.PostgreSQLManager``) keeps
the jobs in the ``jobs`` table (``sdi.models.ProcessJob``, made by the migrations). Its results,
though, it writes to a file under ``output_dir`` — one server's disk, where another replica cannot
read them. Without an ``output_dir`` the table gets an ``output`` column, which pygeoapi 0.24 neither
fills nor reads; ``JobManager`` does both, so status *and* results of a job started on one replica are
served by any other, and survive a restart.

The result is written in the same statement as the job's ``successful`` status: a reader never sees
a finished job without its result.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from pygeoapi.formats import F_JSON, F_JSONLD, FORMAT_TYPES
from pygeoapi.process.base import BaseProcessor, JobResultNotFoundError
from pygeoapi.process.manager.postgresql import PostgreSQLManager
from pygeoapi.util import JobStatus, RequestedResponse

_JSON = (None, FORMAT_TYPES[F_JSON], FORMAT_TYPES[F_JSONLD])


def manager_config(database_url: str) -> dict:
    """The ``server.manager`` entry of the pygeoapi configuration."""
    return {"name": f"{__name__}.JobManager", "connection": database_url,
            # the views of one server share this pool (pygeoapi caches engines by their arguments)
            "options": {"pool_size": 2, "max_overflow": 4}}


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
        try:
            jfmt, outputs, status = super()._execute_handler_sync(p, job_id, data_dict, requested_outputs,
                                                                  subscriber, requested_response)
            final = self._running.final
        finally:
            self._running.job = None
        if final is not None:
            super().update_job(job_id, {**final, "location": None, "output": _encode(final.get("mimetype"), outputs)})
        return jfmt, outputs, status

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
