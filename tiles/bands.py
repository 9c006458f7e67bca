"""Which band is red, green, blue or near infrared in an item.

The vegetation-index presets (``?algorithm=ndvi|vari|exg``) need band roles, not numbers: a
DJI multispectral flight is blue, green, red, red edge, NIR (NIR = b5), a Sentinel-2 stack of
the province is blue, green, red, NIR (b4), a plain drone is red, green, blue. Roles come
from, in order: the item's STAC (``eo:bands`` / STAC 1.1 ``bands`` common names, as the
ingest writes them), then the COG itself (band descriptions, colour interpretation).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import rasterio

from tiles.store import RasterRef

#: Sentinel-2 band names and other spellings met in files, to STAC eo common names.
ALIASES = {
    "b02": "blue", "b2": "blue", "b03": "green", "b3": "green", "b04": "red", "b4": "red",
    "b08": "nir", "b8": "nir", "b8a": "nir08", "nir08": "nir08", "near infrared": "nir", "near-infrared": "nir",
    "nir": "nir", "red edge": "rededge", "red-edge": "rededge", "re": "rededge",
}


def _normalise(name: str | None) -> str | None:
    if not name:
        return None
    key = re.sub(r"\s+", " ", name.strip().lower())
    return ALIASES.get(key, key)


def _from_stac(stac: dict) -> list[str | None] | None:
    """Common names of the bands of the item's first asset that lists bands."""
    for asset in (stac.get("assets") or {}).values():
        bands = asset.get("eo:bands") or asset.get("bands")
        if isinstance(bands, list) and bands:
            return [_normalise(b.get("common_name") or b.get("eo:common_name") or b.get("name"))
                    if isinstance(b, dict) else None for b in bands]
    return None


@lru_cache(maxsize=256)
def _from_file(location: str, env: tuple[tuple[str, Any], ...]) -> tuple[list[str | None], int]:
    """Band names the COG's header gives (descriptions, else colour interpretation) and its band count."""
    with rasterio.Env(**dict(env)), rasterio.open(location) as ds:
        names = []
        for desc, interp in zip(ds.descriptions, ds.colorinterp, strict=True):
            name = _normalise(desc) or (interp.name if interp.name in ("red", "green", "blue") else None)
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
