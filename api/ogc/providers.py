"""pygeoapi providers: its PostgreSQL and MVT providers, with what they lack here.

- ``FeatureProvider``: psycopg 3 engine; array columns typed as arrays in queryables;
  unknown properties and malformed filters are a 400, not a 500; writes (OGC API – Features
  Part 4) go through the loaders' validation (``layers.loader.load_frame``), so an edit is
  checked exactly like a file load (geometry, province, required columns, keys).
- ``TileProvider``: the MVT provider puts every column of every feature in every tile, with
  no simplification. Big layers get, below zoom ``DETAIL_ZOOM``, simplified geometry, no
  features smaller than a pixel and only a few properties (below ``OVERVIEW_ZOOM`` not even
  their ids), so low zooms stay fast and light.
(The records catalogue's provider is in ``api.ogc.records``.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from http import HTTPStatus
from typing import Any

import geopandas as gpd
import shapely
from geoalchemy2.functions import (
    ST_Area,
    ST_AsMVT,
    ST_AsMVTGeom,
    ST_Intersects,
    ST_Length,
    ST_MakeEnvelope,
    ST_Simplify,
    ST_Transform,
)
from pygeoapi.provider.base import (
    ProviderInvalidDataError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
    ProviderQueryError,
)
from pygeoapi.provider.mvt_postgresql import MVTPostgreSQLProvider
from pygeoapi.provider.sql import PostgreSQLProvider
from pygeoapi.provider.tile import ProviderTileNotFoundError
from pygeofilter import ast, values
from sqlalchemy import Date, DateTime, and_, delete, func, literal, select
from sqlalchemy.orm import Session

from api.ogc import context
from layers.catalog import refresh_stats
from layers.loader import IfExists, load_frame
from layers.published import SYNTHETIC_KEY
from sdi.errors import SDIError, ValidationFailedError

logger = logging.getLogger(__name__)

#: From this zoom on, big layers get full detail and every property in their tiles.
DETAIL_ZOOM = 12
#: Below this zoom big layers' tiles carry no feature ids (see ``TileProvider``).
OVERVIEW_ZOOM = 10
#: Properties kept in low-zoom tiles of big layers (besides the id).
LOW_ZOOM_PROPERTIES = ("forest_type", "commune_code", "name_vi", "name", "category", "status")
WEB_MERCATOR_WIDTH = 40_075_016.686


class InvalidFeatureError(ProviderInvalidDataError):
    """A feature sent for writing failed the loaders' checks: 422 with the reasons."""

    ogc_exception_code = "InvalidParameterValue"
    http_status_code = HTTPStatus.UNPROCESSABLE_ENTITY


class MalformedFeatureError(ProviderInvalidDataError):
    """The request body is not one GeoJSON feature: 400."""

    ogc_exception_code = "InvalidParameterValue"
    http_status_code = HTTPStatus.BAD_REQUEST


class FeatureExistsError(ProviderInvalidDataError):
    """Creating a feature whose key is taken: 409 (use PUT to replace it)."""

    ogc_exception_code = "Conflict"
    http_status_code = HTTPStatus.CONFLICT


class FeatureProvider(PostgreSQLProvider):
    """pygeoapi's PostgreSQL provider, hardened (see the module docstring)."""

    def __init__(self, provider_def: dict) -> None:
        self.sdi_layer = provider_def["sdi_layer"]
        super().__init__(provider_def)

    def get_fields(self) -> dict:
        if not self._fields:
            super().get_fields()
            for column in self.table_model.__table__.columns:
                name = str(column.name)
                if name not in self._fields:
                    continue
                if getattr(column.type, "item_type", None) is not None:  # ARRAY
                    self._fields[name] = {"type": "array", "items": {"type": "string"}}
                if column.computed is not None:
                    self._fields[name]["readOnly"] = True
                self._fields[name] = {k: v for k, v in self._fields[name].items() if v is not None}
        return self._fields

    def query(self, **kwargs: Any) -> dict:
        for sort in kwargs.get("sortby") or []:
            if sort["property"] not in self.fields:
                raise ProviderInvalidQueryError(
                    user_msg=f"Không có thuộc tính / unknown property in sortby: {sort['property']}")
        for name in kwargs.get("select_properties") or []:
            if name not in self.fields:
                raise ProviderInvalidQueryError(user_msg=f"Không có thuộc tính / unknown property: {name}")
        return super().query(**kwargs)

    def _get_bbox_filter(self, bbox: list[float]) -> Any:
        # storage is CRS84, SRID 4326 in PostGIS; pygeoapi's version asks pyproj for the SRID of the
        # CRS84 URI on every request (CRS.to_epsg() searches PROJ's database: 20-40 ms a request)
        if not bbox:
            return True
        return ST_Intersects(ST_MakeEnvelope(*bbox, 4326), getattr(self.table_model, self.geom))

    def _get_cql_filters(self, filterq: Any) -> Any:
        if not filterq:
            return True
        unknown = sorted(_attributes(filterq) - set(self.fields) - {self.geom})
        if unknown:
            raise ProviderInvalidQueryError(user_msg=
                f"Bộ lọc dùng thuộc tính không có / filter uses unknown properties: {', '.join(unknown)}; "
                f"queryables: {', '.join(sorted(self.fields))}")
        _bbox_literals(filterq)
        _srid_4326(filterq)
        try:
            return super()._get_cql_filters(filterq)
        except KeyError as exc:
            raise ProviderInvalidQueryError(user_msg=
                f"Bộ lọc dùng thuộc tính không có / filter uses an unknown property: {exc.args[0]}; "
                f"queryables: {', '.join(sorted(self.fields))}") from exc
        except (ValueError, TypeError, NotImplementedError, AttributeError) as exc:
            raise ProviderInvalidQueryError(user_msg=f"Bộ lọc không hợp lệ / invalid filter: {exc}") from exc

    def _get_datetime_filter(self, datetime_: str | None) -> Any:
        """pygeoapi compares the date column with text, which PostgreSQL refuses; compare typed values."""
        if datetime_ in (None, "../.."):
            return True
        if self.time_field is None:
            raise ProviderInvalidQueryError(user_msg="Lớp này không có trường thời gian / this collection has "
                                                     "no date to filter on")
        column = getattr(self.table_model, self.time_field)
        is_date = isinstance(column.type, Date) and not isinstance(column.type, DateTime)

        def parse(value: str) -> Any:
            if value in ("..", ""):
                return None
            try:
                moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ProviderInvalidQueryError(user_msg=f"Thời gian không hợp lệ / invalid datetime: {value}") from exc
            return moment.date() if is_date else moment

        if "/" not in datetime_:
            return column == parse(datetime_)
        start, end = (parse(v) for v in datetime_.split("/", 1))
        return and_(*([column >= start] if start is not None else []), *([column <= end] if end is not None else []))

    def get(self, identifier: Any, crs_transform_spec: Any = None, **kwargs: Any) -> dict:
        column = self.table_model.__table__.columns[self.id_field]
        try:
            identifier = column.type.python_type(identifier)
        except (TypeError, ValueError) as exc:
            raise ProviderItemNotFoundError(user_msg=f"Không có đối tượng / no such item: {identifier}") from exc
        return super().get(identifier, crs_transform_spec, **kwargs)

    # --- Part 4: create, replace, update, delete through the loaders' checks -------------

    def create(self, item: str | bytes) -> Any:
        return self._write(item, None, if_exists="fail")

    def update(self, identifier: Any, item: str | bytes) -> bool:
        self._write(item, identifier, if_exists="upsert")
        return True

    def delete(self, identifier: Any) -> bool:
        layer = context.current().layer(self.sdi_layer)
        column = self.table_model.__table__.columns[self.id_field]
        try:
            identifier = column.type.python_type(identifier)
        except (TypeError, ValueError) as exc:
            raise ProviderItemNotFoundError(user_msg=f"Không có đối tượng / no such item: {identifier}") from exc
        engine = context.current().engine
        with Session(engine) as session:
            deleted = session.execute(  # type: ignore[attr-defined]  # a CursorResult for DELETE
                delete(self.table_model).where(column == identifier)).rowcount
            session.commit()
        if not deleted:
            raise ProviderItemNotFoundError(user_msg=f"Không có đối tượng / no such item: {identifier}")
        with engine.begin() as conn:
            refresh_stats(conn, layer)
        return True

    def _write(self, item: str | bytes, identifier: Any, if_exists: IfExists) -> Any:
        layer = context.current().layer(self.sdi_layer)
        try:
            feature = json.loads(item)
        except (TypeError, ValueError) as exc:
            raise MalformedFeatureError(user_msg=f"JSON không hợp lệ / invalid JSON: {exc}") from exc
        if not isinstance(feature, dict) or feature.get("type") != "Feature" or \
                not isinstance(feature.get("properties") or {}, dict):
            raise MalformedFeatureError(user_msg="Cần một GeoJSON Feature / expected one GeoJSON Feature")
        props = dict(feature.get("properties") or {})
        columns = layer.sa_table.columns
        # generated columns (areas, lengths) come back from clients such as QGIS: ignore them
        props = {k: v for k, v in props.items() if not (k in columns and columns[k].computed is not None)}
        unknown = sorted(set(props) - set(layer.writable_columns) - {"geometry", "geom"})
        if unknown:
            raise InvalidFeatureError(user_msg=f"Thuộc tính không có trong lớp / unknown properties: "
                                               f"{', '.join(unknown)}; columns: {', '.join(layer.writable_columns)}")
        key = layer.natural_key
        if props.get(key) is None:
            # QGIS 3.40 sends a new feature's key column as null when the user left it empty: no key given
            props.pop(key, None)
        if identifier is not None:
            props[key] = identifier
        elif key not in props and feature.get("id") is not None:
            props[key] = feature["id"]
        elif key not in props and layer.published and key in (SYNTHETIC_KEY, f"{SYNTHETIC_KEY}_sdi"):
            # a published layer keyed by row number (its file had no key): a new feature takes the next one
            # (two creates at the same instant may take the same number: the second is a 409, to be retried)
            column = layer.sa_table.c[key]
            with context.current().engine.connect() as conn:
                props[key] = int(conn.execute(select(func.coalesce(func.max(column), 0) + 1)).scalar_one())
        try:
            geometry = shapely.geometry.shape(feature["geometry"]) if feature.get("geometry") else None
        except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
            raise MalformedFeatureError(user_msg=f"Hình học không hợp lệ / invalid geometry: {exc}") from exc
        if layer.has_geometry and geometry is None:
            raise InvalidFeatureError(user_msg="Thiếu hình học / the feature has no geometry")
        frame = gpd.GeoDataFrame([props], geometry=[geometry], crs="OGC:CRS84") if layer.has_geometry \
            else gpd.pd.DataFrame([props])
        try:
            services = context.current()
            load_frame(frame, layer, engine=services.engine, settings=services.settings,
                       source=f"OGC API ({context.caller_label()})", if_exists=if_exists)
        except ValidationFailedError as exc:
            errors = [i for i in exc.report.issues if i.severity == "error"]
            problems = "; ".join(f"{i.code}: {i.message}" for i in errors)
            kind = FeatureExistsError if errors and all(i.code == "key_exists" for i in errors) else InvalidFeatureError
            raise kind(user_msg=f"{exc.detail} {problems}".strip()) from exc
        except SDIError as exc:
            if exc.status >= 500:
                raise ProviderQueryError(user_msg="Lỗi cơ sở dữ liệu / database error") from exc
            raise InvalidFeatureError(user_msg=exc.detail) from exc
        return props.get(key)


class TileProvider(MVTPostgreSQLProvider):
    """pygeoapi's MVT provider, generalised below ``DETAIL_ZOOM``: lines and polygons are
    simplified to the tile's pixel and those smaller than a pixel dropped; big layers also
    keep only a few properties there. Points and mixed layers are served as pygeoapi does."""

    def __init__(self, provider_def: dict) -> None:
        self.sdi_big = bool(provider_def.get("sdi_big"))
        self.sdi_kind = provider_def.get("sdi_kind", "mixed")
        super().__init__(provider_def)

    def get_tiles(self, layer: str = "default", tileset: str | None = None, z: Any = None, y: Any = None,
                  x: Any = None, format_: str | None = None) -> bytes | None:
        # Always our own query: pygeoapi's transforms with the CRS as text (``'EPSG:3857'``),
        # which makes PostGIS 3.3 / PROJ 9.1 rebuild the transformation for every row
        # (a z14 forest tile: 3.3 s instead of 2.5 ms, benchmarks/RESULTS.md).
        z, y, x = map(int, [z, y, x])
        [scheme] = [s for s in self.get_tiling_schemes() if tileset == s.tileMatrixSet]
        if not self.is_in_limits(scheme, z, x, y):
            raise ProviderTileNotFoundError
        envelope = self.get_envelope(z, y, x, tileset)
        out_srid = 3857 if scheme.tileMatrixSet == "WebMercatorQuad" else 4326
        geom = getattr(self.table_model, self.geom)
        projected: Any = ST_Transform(geom, out_srid)
        columns = list(self.fields.values())
        general = z < DETAIL_ZOOM and self.sdi_kind in ("polygon", "line") and out_srid == 3857
        query = select()
        if general:
            pixel = WEB_MERCATOR_WIDTH / (256 * 2**z)  # metres per pixel at this zoom
            if self.sdi_big:
                keep = [c for c in LOW_ZOOM_PROPERTIES if c in self.fields and c != self.id_field]
                # an overview: below OVERVIEW_ZOOM a feature is a few pixels, its unique id (one
                # string per feature) was half of the tile's bytes, and nobody picks one plot there
                ident = [self.fields[self.id_field]] if z >= OVERVIEW_ZOOM else []
                columns = [*ident, *(self.fields[c] for c in keep)]
            # features much smaller than a pixel vanish (under half a pixel wide)
            visible = ST_Area(projected) > literal(pixel * pixel / 4) if self.sdi_kind == "polygon" \
                else ST_Length(projected) > literal(pixel / 4)
            query = query.where(visible)
            projected = ST_Simplify(projected, pixel / 2, True)
        mvtgeom = ST_AsMVTGeom(projected, ST_Transform(envelope, out_srid)).label("mvtgeom")
        rows = (
            query.add_columns(mvtgeom, *columns)
            .where(geom.intersects(ST_Transform(envelope, 4326)))
            .cte("mvtrow")
        )
        with Session(self._engine) as session:
            return bytes(session.execute(select(ST_AsMVT(rows.table_valued(), layer))).scalar() or b"") or None


def _bbox_literals(node: Any) -> None:
    """CQL2's ``BBOX(minx, miny, maxx, maxy)`` literal: pygeofilter parses it as a function
    call its SQL backend does not know; make it the polygon it stands for."""
    if not dataclasses.is_dataclass(node):
        return
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, ast.Function) and value.name.lower() == "bbox" and len(value.arguments) in (4, 6):
            a = [float(v) for v in value.arguments]
            box = shapely.box(a[0], a[1], a[2], a[3]) if len(a) == 4 else shapely.box(a[0], a[1], a[3], a[4])
            setattr(node, f.name, values.Geometry({**shapely.geometry.mapping(box),
                                                   "crs": {"properties": {"name": "urn:ogc:def:crs:EPSG::4326"}}}))
        elif isinstance(value, list):
            for item in value:
                _bbox_literals(item)
        else:
            _bbox_literals(value)


def _srid_4326(node: Any) -> None:
    """Geometry literals arrive in CRS84 (pygeoapi transforms them to the storage CRS) and
    pygeofilter writes that as ``SRID=CRS84``, which PostGIS cannot parse: CRS84 and
    EPSG:4326 as PostGIS stores it are the same lon/lat coordinates, so say 4326."""
    for sub in node.get_sub_nodes() if hasattr(node, "get_sub_nodes") else []:
        for item in sub if isinstance(sub, list) else [sub]:
            if isinstance(item, values.Geometry):
                name = item.geometry.get("crs", {}).get("properties", {}).get("name", "")
                if name.endswith("CRS84"):
                    item.geometry["crs"] = {"properties": {"name": "urn:ogc:def:crs:EPSG::4326"}}
            else:
                _srid_4326(item)


def _attributes(node: Any) -> set[str]:
    """Every property name a parsed CQL2 filter refers to."""
    if isinstance(node, ast.Attribute):
        return {node.name}
    found: set[str] = set()
    for sub in node.get_sub_nodes() if isinstance(node, ast.Node) else []:
        if isinstance(sub, list):
            for item in sub:
                found |= _attributes(item)
        else:
            found |= _attributes(sub)
    return found
