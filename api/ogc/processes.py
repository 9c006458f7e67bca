"""OGC API – Processes: ``forest-change``, change detection (``change.run``) as a pygeoapi process
(asynchronous, with job status).

Executed through ``/ogc/processes/forest-change/execution`` (``Prefer: respond-async`` for a job at
``/ogc/jobs/{id}``). The gateway lets only keys of the rangers (kiemlam) and admins execute it; the
run itself sees raster items with the rangers' rights (a restricted collection of another agency
stays invisible, as for the tiles), and writes ``change_events`` like ``sdi change detect``.
"""

from __future__ import annotations

import logging

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError

from api.ogc import context
from change.detect import Params
from change.run import run
from sdi.access import Principal
from sdi.errors import SDIError
from sdi.problems import SERVER_ERROR

logger = logging.getLogger(__name__)

#: whose rights the run has (the gateway has already checked that the caller is a ranger or an admin)
RANGERS = Principal(name="forest-change process", agency="kiemlam", role="agency")

PROCESS_METADATA = {
    "version": "1.0.0",
    "id": "forest-change",
    "title": {"vi": "Phát hiện biến động rừng", "en": "Forest change detection"},
    "description": {
        "vi": "So sánh hai lần chụp (UAV hoặc Sentinel-2) đã nạp, ghi các vùng mất rừng / tăng thảm thực vật vào "
              "lớp change_events (lô rừng, xã, diện tích, độ lớn, độ tin cậy).",
        "en": "Compares two registered acquisitions (UAV or Sentinel-2) and writes forest loss / vegetation gain "
              "polygons into the change_events layer (plot, commune, area, magnitude, confidence).",
    },
    "jobControlOptions": ["async-execute", "sync-execute"],
    "keywords": ["biến động rừng", "forest change", "NDVI", "UAV", "Sentinel-2"],
    "links": [],
    "inputs": {
        "before": {"title": "Ảnh trước / before item", "schema": {"type": "string"}, "minOccurs": 1, "maxOccurs": 1},
        "after": {"title": "Ảnh sau / after item", "schema": {"type": "string"}, "minOccurs": 1, "maxOccurs": 1},
        "threshold": {"title": "Ngưỡng / threshold (default: automatic)",
                      "schema": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
                      "minOccurs": 0, "maxOccurs": 1},
        "mmu_ha": {"title": "Diện tích tối thiểu / minimum mapping unit (ha)", "schema": {"type": "number",
                                                                                         "minimum": 0},
                   "minOccurs": 0, "maxOccurs": 1},
    },
    "outputs": {"summary": {"title": "Tóm tắt / summary",
                            "schema": {"type": "object", "contentMediaType": "application/json"}}},
    "example": {"inputs": {"before": "s2-2026-01-10", "after": "s2-2026-03-12"}},
}


class ForestChangeProcessor(BaseProcessor):
    def __init__(self, processor_def: dict) -> None:
        super().__init__(processor_def, PROCESS_METADATA)
        # made in the request's worker thread; an asynchronous job runs in a thread of its own
        self.services = context.current()

    def execute(self, data: dict, outputs: dict | None = None) -> tuple[str, dict]:
        before, after = data.get("before"), data.get("after")
        if not isinstance(before, str) or not isinstance(after, str):
            raise ProcessorExecuteError("Thiếu 'before' hoặc 'after' (mã ảnh) / 'before' and 'after' item ids are "
                                        "required")
        try:
            threshold = float(data["threshold"]) if data.get("threshold") is not None else None
            mmu = float(data["mmu_ha"]) if data.get("mmu_ha") is not None else None
            out = run(self.services.engine, self.services.settings, before, after,
                      Params(threshold=threshold, mmu_ha=mmu), who=RANGERS)
        except SDIError as exc:
            if exc.status >= 500:  # the table's rule: no internal text in a server error
                logger.error("forest-change failed", exc_info=exc)
                raise ProcessorExecuteError(SERVER_ERROR) from exc
            raise ProcessorExecuteError(exc.detail) from exc
        except (ValueError, TypeError) as exc:
            raise ProcessorExecuteError(str(exc)) from exc
        frame, r = out.events, out.result
        loss = frame[frame.change_type == "loss"]
        return "application/json", {
            "before": before, "after": after, "index": r.index, "events": int(len(frame)),
            "loss_events": int(len(loss)), "loss_ha": round(float(loss.area_ha.sum()), 4),
            "written": out.written, "event_ids": list(frame.event_id),
            # the earlier run of the pair: 'new' events no longer found removed, rangers' decisions carried or kept
            "removed": out.removed, "carried": out.carried, "kept": out.kept,
            "thresholds": {k: round(v, 4) for k, v in r.thresholds.items()}, "seconds": round(r.seconds, 2),
        }

    def __repr__(self) -> str:
        return "<ForestChangeProcessor>"
