"""The province's agencies (``agencies.yaml``): they own layers and raster collections and hold API keys."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field

AGENCIES_FILE = Path(__file__).with_name("agencies.yaml")


class Agency(BaseModel):
    """An agency that owns layers and holds API keys."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name_vi: str
    name_en: str


def read_agencies(path: Path = AGENCIES_FILE) -> dict[str, Agency]:
    """The agencies of ``agencies.yaml`` by code."""
    return {a.code: a for a in (Agency.model_validate(e) for e in yaml.safe_load(path.read_text(encoding="utf-8")))}
