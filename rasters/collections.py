"""Raster collections: ``collections.yaml`` → ``raster_collections`` (as ``layers/catalog.py`` does for layers)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sdi.access import Principal, changed_grants, visible
from sdi.agencies import read_agencies
from sdi.errors import ConflictError, InvalidInputError, NotFoundError
from sdi.models import RasterCollection

COLLECTIONS_FILE = Path(__file__).with_name("collections.yaml")

Kind = Literal["rgb", "multispectral", "sentinel2", "dem", "categorical"]
#: ids of collections (the configured ones and those an agency creates): lower case, digits, _ and -
COLLECTION_ID = r"^[a-z][a-z0-9_-]{1,62}$"


class CollectionSpec(BaseModel):
    """One entry of ``collections.yaml``."""

    id: str = Field(pattern=COLLECTION_ID)
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
        return self.model_dump()


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


def find_collection(engine: Engine, collection_id: str) -> RasterCollection | None:
    """The collection row, or None."""
    with Session(engine, expire_on_commit=False) as session:
        return session.get(RasterCollection, collection_id)


def get_collection(engine: Engine, collection_id: str) -> RasterCollection:
    """The collection row, or a ``NotFoundError`` naming the known ones."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(RasterCollection, collection_id)
        if row is None:
            known = session.scalars(select(RasterCollection.id).order_by(RasterCollection.id)).all()
            raise NotFoundError(f"Không có bộ sưu tập ảnh / no raster collection {collection_id!r}; "
                                f"known: {', '.join(known)}; to make it: sdi ingest … --create --kind K "
                                "--title-vi T (or POST /stac/collections)")
        return row


def band_names(engine: Engine, collection_id: str) -> list[str]:
    """Default band names of a collection (STAC eo common names, for files that do not name theirs)."""
    spec = read_collections().get(collection_id)
    if spec is not None:
        return spec.bands
    with Session(engine) as session:
        row = session.get(RasterCollection, collection_id)
    return list(row.bands or []) if row is not None else []


def create_collection(engine: Engine, spec: CollectionSpec) -> RasterCollection:
    """Create a raster collection an agency asked for (``sdi ingest --create``, ``POST /stac/collections``);
    ``ConflictError`` if the id is taken, ``InvalidInputError`` for an unknown owner or an empty title."""
    if spec.owner not in read_agencies():
        raise InvalidInputError(f"Cơ quan không rõ / unknown agency {spec.owner!r}; known: "
                                f"{', '.join(sorted(read_agencies()))}")
    if not spec.title_vi.strip():
        raise InvalidInputError("Thiếu tên bộ sưu tập tiếng Việt / the Vietnamese title is required")
    with Session(engine, expire_on_commit=False) as session:
        row = RasterCollection(**spec.row())
        session.add(row)
        try:
            session.commit()
        except IntegrityError as exc:
            raise ConflictError(f"Đã có bộ sưu tập / a raster collection {spec.id!r} already exists") from exc
    return row


def share_collection(engine: Engine, collection_id: str, agency: str, permission: str | None,
                     who: Principal | None = None) -> RasterCollection:
    """Grant ``permission`` ("read": see it whatever its access level; "edit": also ingest into it) on the
    collection to ``agency`` (None: take it back), as ``layers.sharing.share`` does for layers; the row
    as it now stands. ``who`` None is the operator at the command line. A collection ``who`` may not see
    is unknown (``NotFoundError``), like everywhere else."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(RasterCollection, collection_id, with_for_update=True)  # one change at a time
        if row is None or (who is not None and not visible(row, who)):
            raise NotFoundError(f"Không có bộ sưu tập ảnh / no raster collection {collection_id!r}")
        row.grants = changed_grants(row, collection_id, agency, permission, who)
        session.commit()
    return row
