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


@pytest.mark.parametrize(("host", "base"), [
    ("127.0.0.1", "http://127.0.0.1:8000"), ("::1", "http://[::1]:8000"), ("[::1]", "http://[::1]:8000"),
    ("::", "http://[::1]:8000"), ("0.0.0.0", "http://127.0.0.1:8000"), ("sdi.langson.gov.vn", "http://sdi.langson.gov.vn:8000"),
    ("fd00::5", "http://[fd00::5]:8000"),
])
def test_base_url_is_a_url_for_every_bind_address(host, base):
    assert Settings(host=host, port=8000).base_url == base


def test_links_follow_the_request_unless_a_public_url_is_set():
    assert Settings().link_base("http://[::1]:9000/") == "http://[::1]:9000"
    assert Settings(public_url="https://sdi.langson.gov.vn/").link_base("http://[::1]:9000/") == \
        "https://sdi.langson.gov.vn"
