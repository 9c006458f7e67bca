"""pygeoapi's bbox re-projection without asking PROJ from scratch on every request.

``pygeoapi.api.itemtypes`` calls ``pygeoapi.crs.transform_bbox`` for every request with a
``bbox`` (QGIS and web maps always send one), even when ``bbox-crs`` and the storage CRS are
the same (CRS84 both, the usual case). That builds two ``pyproj.CRS`` from URIs, a
``Transformer`` and calls ``CRS.to_epsg()`` (a search of PROJ's database): 20–50 ms a request on
this machine, more than the query. pygeoapi offers no hook for it, so the function is wrapped
here: the same CRS on both sides returns the bbox as it is (the transformation pygeoapi would
build is the identity), and other pairs reuse a cached transformer (``sdi.crs``) with pygeoapi's
own clipping rule for Web Mercator.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sdi.crs import default_transformer


@lru_cache(maxsize=64)
def _key(crs: str) -> tuple[str, bool]:
    """A canonical form of a CRS URI and whether it is Web Mercator."""
    from pygeoapi.crs import get_crs

    obj = get_crs(crs)
    return obj.to_wkt(), obj.to_epsg() == 3857


def transform_bbox(bbox: list, from_crs: Any, to_crs: Any, always_xy: bool = False) -> list:
    """``pygeoapi.crs.transform_bbox`` for URI strings, cached; anything else goes to pygeoapi's."""
    from pygeoapi import crs as pygeoapi_crs

    if not isinstance(from_crs, str) or not isinstance(to_crs, str):
        return pygeoapi_crs.transform_bbox(bbox, from_crs, to_crs, always_xy)
    (src, _), (dst, mercator) = _key(from_crs), _key(to_crs)
    if src == dst:
        return list(bbox)
    if mercator:  # pygeoapi's rule: clip to Web Mercator's latitudes
        bbox = [bbox[0], max(-85.0511, bbox[1]), bbox[2], min(85.0511, bbox[3])]
    forward = default_transformer(src, dst, always_xy).transform
    n = len(bbox) // 2
    return list(forward(*bbox[:n]) + forward(*bbox[n:]))


def install() -> None:
    """Point pygeoapi's items API at the cached ``transform_bbox`` (idempotent)."""
    from pygeoapi.api import itemtypes

    itemtypes.transform_bbox = transform_bbox
