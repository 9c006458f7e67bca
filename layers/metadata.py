"""A published layer's metadata, edited by its owner: ``PATCH /layers/{id}``.

Vietnamese and English are separate fields (titles, abstracts, keywords), as the national data
portal's ISO 19115 / DCAT records want them. Every field is checked before anything is written;
one UPDATE writes them all. Bundled layers take their metadata from ``layers/catalog.yaml`` (``sdi up``
writes it back), so only published layers are edited here.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Engine, update

from layers.catalog import AccessLevel, Layer, UpdateFrequency, get_layer, load_catalog
from sdi.access import Principal, can_edit
from sdi.errors import ForbiddenError, InvalidInputError
from sdi.models import LayerRecord


class MetadataPatch(BaseModel):
    """The fields a PATCH may set (absent ones are left as they are)."""

    model_config = ConfigDict(extra="forbid")

    title_vi: str | None = Field(None, min_length=1, max_length=300)
    title_en: str | None = Field(None, max_length=300)
    abstract_vi: str | None = Field(None, max_length=10_000)
    abstract_en: str | None = Field(None, max_length=10_000)
    keywords: list[str] | None = Field(None, max_length=50)
    keywords_en: list[str] | None = Field(None, max_length=50)
    licence: str | None = Field(None, max_length=200)
    attribution: str | None = Field(None, max_length=1000)
    contact: str | None = Field(None, max_length=300)
    lineage: str | None = Field(None, max_length=10_000)
    update_frequency: UpdateFrequency | None = None
    access_level: AccessLevel | None = None
    temporal_start: dt.datetime | None = None
    temporal_end: dt.datetime | None = None
    scale_denominator: int | None = Field(None, gt=0, le=100_000_000)

    @field_validator("title_vi")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the Vietnamese title may not be blank")
        return value.strip() if value else value

    @field_validator("keywords", "keywords_en")
    @classmethod
    def _keywords(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not k.strip() or len(k) > 100 for k in value):
            raise ValueError("keywords are 1–100 characters each")
        return [k.strip() for k in value] if value is not None else None

    @model_validator(mode="after")
    def _dates(self) -> MetadataPatch:
        for when in (self.temporal_start, self.temporal_end):
            if when is not None and when.tzinfo is None:
                raise ValueError("temporal_start/temporal_end need a time zone (e.g. 2026-01-01T00:00:00+07:00)")
        if self.temporal_start and self.temporal_end and self.temporal_end < self.temporal_start:
            raise ValueError("temporal_end is before temporal_start")
        return self


def parse_patch(body: object) -> MetadataPatch:
    """The patch in a request body, or an ``InvalidInputError`` naming each bad field."""
    if not isinstance(body, dict) or not body:
        raise InvalidInputError("Cần một đối tượng JSON các trường siêu dữ liệu / the body must be a JSON object of "
                                "metadata fields")
    try:
        return MetadataPatch.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise InvalidInputError(f"Siêu dữ liệu không hợp lệ / invalid metadata: {problems}") from exc


def update_metadata(engine: Engine, layer_id: str, patch: MetadataPatch, who: Principal) -> Layer:
    """Apply ``patch`` to a published layer its caller may edit; the layer as it now stands."""
    layer = get_layer(load_catalog(engine), layer_id)
    if not can_edit(layer, who):
        raise ForbiddenError(f"Chỉ cơ quan chủ quản hoặc quản trị / only the owning agency ({layer.owner}) or an "
                             f"admin may edit the metadata of {layer_id!r}")
    if not layer.published:
        raise InvalidInputError(f"Lớp có sẵn / {layer_id!r} is a bundled layer: its metadata is kept in "
                                "layers/catalog.yaml")
    values = patch.model_dump(exclude_unset=True)
    end, start = values.get("temporal_end", layer.temporal_end), values.get("temporal_start", layer.temporal_start)
    if start and end and end < start:
        raise InvalidInputError("Siêu dữ liệu không hợp lệ / invalid metadata: temporal_end is before temporal_start")
    with engine.begin() as conn:
        conn.execute(update(LayerRecord).where(LayerRecord.id == layer_id).values(**values))
    return get_layer(load_catalog(engine), layer_id)
