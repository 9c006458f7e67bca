"""Band names and roles: STAC ``eo`` common names from band descriptions (``B5_nir``, ``B08``,
``Red edge``…), and which band of an item is red, green, blue or near infrared.

The ingest names the bands of a COG (``band_common_names``, written into the STAC item); the
vegetation-index presets (``?algorithm=ndvi|vari|exg``) and change detection need band *roles*,
not numbers: a DJI multispectral flight is blue, green, red, red edge, NIR (NIR = b5), a
Sentinel-2 stack of the province is blue, green, red, NIR (b4), a plain drone is red, green,
blue. ``roles`` reads them from, in order: the item's STAC (``eo:bands`` / STAC 1.1 ``bands``
common names, as the ingest writes them), then the COG itself (band descriptions, colour
interpretation).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import rasterio

from rasters.items import RasterRef

#: Sentinel-2 band codes → common names
SENTINEL2 = {"b01": "coastal", "b02": "blue", "b03": "green", "b04": "red", "b05": "rededge", "b06": "rededge",
             "b07": "rededge", "b08": "nir", "b8a": "nir08", "b09": "nir09", "b11": "swir16", "b12": "swir22"}
#: words in a description → common name (first match wins; order matters: "red edge" before "red")
WORDS = [
    (r"coastal|aerosol", "coastal"),
    (r"red[\s_-]?edge|\bre\b", "rededge"),
    (r"nir|near[\s_-]?infra", "nir"),
    (r"swir[\s_-]?1\b|swir16|swir1[^\d]|swir_?1$", "swir16"),
    (r"swir[\s_-]?2\b|swir22|swir2[^\d]|swir_?2$", "swir22"),
    (r"\bblue\b|^blue|_blue", "blue"),
    (r"\bgreen\b|^green|_green", "green"),
    (r"\bred\b|^red|_red", "red"),
    (r"pan(chromatic)?\b", "pan"),
]
COMMON_NAMES = {"coastal", "blue", "green", "red", "rededge", "yellow", "pan", "nir", "nir08", "nir09",
                "cirrus", "swir16", "swir22", "lwir", "lwir11", "lwir12"}


def common_name(description: str | None) -> str | None:
    """The eo common name a band description stands for, if it is clear."""
    if not description:
        return None
    text = description.strip().lower()
    if text in COMMON_NAMES:
        return text
    code = re.search(r"\bb(\d{1,2}|8a)\b|^b(\d{1,2}|8a)[_\s]", text)
    if code:
        key = code.group(0).strip(" _")
        key = "b" + key[1:].zfill(2) if key[1:].isdigit() else key
        if key in SENTINEL2 and not re.search(r"[a-z]{3,}", text.replace(code.group(0), "")):
            return SENTINEL2[key]
    for pattern, name in WORDS:
        if re.search(pattern, text):
            return name
    return None


def band_common_names(descriptions: list[str | None], defaults: list[str]) -> list[str | None]:
    """Common names of all bands: from the descriptions when every named band is clear, else the
    collection's defaults when the count matches, else what the descriptions say band by band."""
    named = [common_name(d) for d in descriptions]
    if all(named):
        return named
    if defaults and len(defaults) == len(descriptions) and not any(named):
        return list(defaults)
    return named


def _from_stac(stac: dict) -> list[str | None] | None:
    """Common names of the bands of the item's first asset that lists bands."""
    for asset in (stac.get("assets") or {}).values():
        bands = asset.get("eo:bands") or asset.get("bands")
        if isinstance(bands, list) and bands:
            return [common_name(b.get("common_name") or b.get("eo:common_name") or b.get("name"))
                    if isinstance(b, dict) else None for b in bands]
    return None


@lru_cache(maxsize=256)
def _from_file(location: str, env: tuple[tuple[str, Any], ...]) -> tuple[list[str | None], int]:
    """Band names the COG's header gives (descriptions, else colour interpretation) and its band count."""
    with rasterio.Env(**dict(env)), rasterio.open(location) as ds:
        names = []
        for desc, interp in zip(ds.descriptions, ds.colorinterp, strict=True):
            name = common_name(desc) or (interp.name if interp.name in ("red", "green", "blue") else None)
            names.append(name)
        return names, ds.count


def band_count(ref: RasterRef, env: dict[str, Any]) -> int:
    if ref.band_count:
        return ref.band_count
    return _from_file(ref.location, tuple(sorted(env.items())))[1]


def roles(ref: RasterRef, env: dict[str, Any]) -> dict[str, int]:
    """``{"red": 3, "nir": 5, ...}``: 1-based band index of each known role."""
    names = _from_stac(ref.stac)
    if not names or not any(names):
        names = _from_file(ref.location, tuple(sorted(env.items())))[0]
    out: dict[str, int] = {}
    for index, name in enumerate(names, start=1):
        if name and name not in out:
            out[name] = index
    if "nir" not in out and "nir08" in out:
        out["nir"] = out["nir08"]
    return out
