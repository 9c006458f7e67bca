"""sdi.notify: the triggers of migration 0007 tell a listening process of changes at commit."""

from __future__ import annotations

import os
import threading
import time

from sqlalchemy import update
from sqlalchemy.orm import Session

from sdi.access import add_key, revoke_key
from sdi.models import ApiKey, LayerRecord
from sdi.notify import ChangeListener


def test_revocations_and_catalogue_changes_are_told_at_commit(engine, seeded):
    told: dict[str, threading.Event] = {t: threading.Event() for t in ("api_keys", "layers")}
    listener = ChangeListener(engine)
    for table, event in told.items():
        listener.on(table, event.set)
    listener.start()
    try:
        assert listener.listening.wait(10)
        name = f"notify-{os.getpid()}"
        add_key(engine, name, "kiemlam")
        # a key's use (last_used_at) tells nothing: only revocations and deletions do
        with Session(engine) as session:
            session.execute(update(ApiKey).where(ApiKey.name == name).values(last_used_at=None))
            session.commit()
        time.sleep(0.5)
        assert not told["api_keys"].is_set()
        start = time.monotonic()
        revoke_key(engine, name)
        assert told["api_keys"].wait(2) and time.monotonic() - start < 1.0
        with Session(engine) as session:  # an update that changes nothing still says the table was touched
            session.execute(update(LayerRecord).where(LayerRecord.id == "rivers").values(access_level="public"))
            session.commit()
        assert told["layers"].wait(2)
    finally:
        listener.stop()
    assert not listener.listening.is_set()
