"""The STAC Item of an ingested COG (pystac with the eo, projection, raster and file extensions).

Hrefs are stored relative to the server root (``/rasters/{id}/cog.tif``); the STAC API puts the
server's address in front when it serves the item, so the stored JSON fits any deployment.
The two URL patterns are the tile server's (``tiles/``): the COG itself with HTTP Range at
``/rasters/{id}/cog.tif`` and XYZ tiles under ``/rasters/{id}/tiles/...``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pystac
import rasterio
import shapely
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, Histogram, RasterBand, RasterExtension, Statistics

from rasters.store import COG_MEDIA_TYPE
from uav_ingest.validate import SourceInfo

COG_URL = "/rasters/{item_id}/cog.tif"
TILES_URL = "/rasters/{item_id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
TILEJSON_URL = "/rasters/{item_id}/WebMercatorQuad/tilejson.json"  # titiler.core's TilerFactory layout
WEB_MAP_LINKS = "https://stac-extensions.github.io/web-map-links/v1.2.0/schema.json"


@dataclass(frozen=True)
class CogFacts:
    """What the finished COG is (it may differ from the source: web-optimized, alpha → mask)."""

    width: int
    height: int
    count: int
    dtype: str
    crs_wkt: str
    epsg: int | None
    transform: list[float]
    bounds: list[float]
    nodata: float | None
    compression: str | None
    overviews: list[int]
    mask: bool
    resolution: float


def cog_facts(path: Path) -> CogFacts:
    with rasterio.open(path) as ds:
        flags = ds.mask_flag_enums[0]
        return CogFacts(
            width=ds.width, height=ds.height, count=ds.count, dtype=ds.dtypes[0], crs_wkt=ds.crs.to_wkt(),
            epsg=ds.crs.to_epsg(), transform=list(ds.transform)[:6], bounds=list(ds.bounds), nodata=ds.nodata,
            compression=ds.compression.value if ds.compression else None, overviews=ds.overviews(1),
            mask=any(f.name == "per_dataset" for f in flags), resolution=abs(ds.transform.a),
        )


def item_id(source_name: str, sha256: str) -> str:
    """``<file stem as ascii slug>-<12 hex of the checksum>``: stable for the same file."""
    stem = Path(source_name).stem.replace("đ", "d").replace("Đ", "D")
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-")[:60] or "raster"
    return f"{slug}-{sha256[:12]}"


def build_item(*, item_id: str, collection_id: str, kind: str, when: dt.datetime, platform: str | None,
               source_name: str, info: SourceInfo, facts: CogFacts, footprint: shapely.MultiPolygon, stats: list[dict],
               source_sha256: str, cog_sha256: str, cog_size: int) -> dict:
    """The STAC Item as a dict (hrefs relative to the server root)."""
    item = pystac.Item(
        id=item_id, geometry=shapely.geometry.mapping(footprint), bbox=list(footprint.bounds),
        datetime=when.astimezone(dt.UTC),  # STAC: datetimes in UTC
        properties={"sdi:source_name": source_name, "sdi:source_sha256": source_sha256, "sdi:kind": kind},
        collection=collection_id,
    )
    item.common_metadata.created = dt.datetime.now(dt.UTC)
    item.common_metadata.platform = platform
    item.common_metadata.gsd = round(info.gsd_m, 4)
    roles = ["data", "visual"] if kind == "rgb" else ["data"]
    asset = pystac.Asset(href=COG_URL.format(item_id=item_id), media_type=COG_MEDIA_TYPE, roles=roles,
                         title="Cloud-Optimized GeoTIFF")
    item.add_asset("data", asset)

    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.apply(code=f"EPSG:{facts.epsg}" if facts.epsg else None,
               wkt2=None if facts.epsg else facts.crs_wkt,
               shape=[facts.height, facts.width], transform=facts.transform, bbox=facts.bounds)

    names = info.common_names
    descriptions = [d for i, d in enumerate(info.descriptions) if i + 1 != info.alpha]
    common = [names[i] if i < len(names) else None for i in range(facts.count)]
    eo_bands = [Band.create(name=descriptions[i] or common[i] or f"b{i + 1}", common_name=common[i])
                for i in range(facts.count)]
    EOExtension.ext(asset, add_if_missing=True).apply(bands=eo_bands)
    EOExtension.add_to(item)

    raster_bands = []
    for i in range(facts.count):
        s = stats[i] if i < len(stats) else {}
        hist = s.get("histogram")
        raster_bands.append(RasterBand.create(
            nodata=facts.nodata, data_type=DataType(facts.dtype), spatial_resolution=round(info.gsd_m, 4),
            unit="m" if kind == "dem" else None,
            statistics=Statistics.create(minimum=s.get("minimum"), maximum=s.get("maximum"), mean=s.get("mean"),
                                         stddev=s.get("stddev"), valid_percent=s.get("valid_percent")),
            histogram=Histogram.create(**hist) if hist else None,
        ))
    RasterExtension.ext(asset, add_if_missing=True).apply(bands=raster_bands)
    RasterExtension.add_to(item)

    FileExtension.ext(asset, add_if_missing=True).apply(size=cog_size, checksum="1220" + cog_sha256)
    FileExtension.add_to(item)

    item.stac_extensions.append(WEB_MAP_LINKS)
    item.add_link(pystac.Link(rel="xyz", target=TILES_URL.format(item_id=item_id), media_type="image/png",
                              title="XYZ tiles (WebMercatorQuad)"))
    item.add_link(pystac.Link(rel="tilejson", target=TILEJSON_URL.format(item_id=item_id),
                              media_type="application/json", title="TileJSON"))
    data = item.to_dict(include_self_link=False, transform_hrefs=False)
    for band, s in zip(data["assets"]["data"].get("raster:bands", []), stats, strict=False):
        if "classes" in s:  # categorical: counts per class value
            band["sdi:class_counts"] = s["classes"]
    return data
