from __future__ import annotations

import pytest
from pydantic import ValidationError

from sdi.settings import Settings


@pytest.mark.parametrize("given", ["postgresql://u:p@h:5432/d", "postgres://u:p@h:5432/d",
                                   "postgresql+psycopg2://u:p@h:5432/d"])
def test_database_url_pinned_to_psycopg3(given):
    assert Settings(database_url=given).database_url == "postgresql+psycopg://u:p@h:5432/d"


def test_non_postgres_url_rejected():
    with pytest.raises(ValidationError, match="postgresql"):
        Settings(database_url="sqlite:///pretend.db")


def test_environment_prefix(monkeypatch):
    monkeypatch.setenv("SDI_PORT", "8123")
    monkeypatch.setenv("SDI_DATABASE_URL", "")
    s = Settings()
    assert s.port == 8123 and s.embedded
