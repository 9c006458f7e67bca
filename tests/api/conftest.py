"""Fixtures of the API tests."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, Table, text


@pytest.fixture()
def made(engine):
    """Ids of published layers a test makes; removed (row and table) afterwards."""
    ids: list[str] = []
    yield ids
    with engine.begin() as conn:
        for layer_id in ids:
            conn.execute(text("DELETE FROM layers WHERE id = :i"), {"i": layer_id})
            Table(layer_id, MetaData(), schema="published").drop(conn, checkfirst=True)
