"""Raster collections: ``collections.yaml`` → ``raster_collections`` (as ``layers/catalog.py`` does for layers)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sdi.agencies import read_agencies
from sdi.errors import NotFoundError
from sdi.models import RasterCollection

COLLECTIONS_FILE = Path(__file__).with_name("collections.yaml")

Kind = Literal["rgb", "multispectral", "sentinel2", "dem", "categorical"]


class CollectionSpec(BaseModel):
    """One entry of ``collections.yaml``."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    kind: Kind
    title_vi: str
    title_en: str
    description_vi: str
    description_en: str
    keywords: list[str] = []
    owner: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    licence: str
    access_level: Literal["public", "internal", "restricted"] = "public"
    #: STAC eo common names of the bands, when a file's band descriptions do not name them
    bands: list[str] = []

    def row(self) -> dict:
        return self.model_dump(exclude={"bands"})


def read_collections(path: Path = COLLECTIONS_FILE) -> dict[str, CollectionSpec]:
    """Parse and check ``collections.yaml`` (owners must be known agencies)."""
    specs = [CollectionSpec.model_validate(e) for e in yaml.safe_load(path.read_text(encoding="utf-8"))]
    agencies = read_agencies()
    for spec in specs:
        if spec.owner not in agencies:
            raise ValueError(f"raster collection {spec.id}: unknown owner agency {spec.owner!r}")
    return {spec.id: spec for spec in specs}


def sync_collections(conn: Connection, specs: dict[str, CollectionSpec] | None = None) -> None:
    """Write the configured collections into ``raster_collections`` (upsert; items are kept)."""
    for spec in (specs or read_collections()).values():
        values = spec.row()
        stmt = insert(RasterCollection).values(**values)
        conn.execute(stmt.on_conflict_do_update(index_elements=[RasterCollection.id],
                                                set_={k: v for k, v in values.items() if k != "id"}))


def get_collection(engine: Engine, collection_id: str) -> RasterCollection:
    """The collection row, or a ``NotFoundError`` naming the known ones."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(RasterCollection, collection_id)
        if row is None:
            known = session.scalars(select(RasterCollection.id).order_by(RasterCollection.id)).all()
            raise NotFoundError(f"Không có bộ sưu tập ảnh / no raster collection {collection_id!r}; "
                                f"known: {', '.join(known)}")
        return row


def band_names(collection_id: str) -> list[str]:
    """Default band names of a collection (from the YAML; not stored in the database)."""
    spec = read_collections().get(collection_id)
    return spec.bands if spec else []
