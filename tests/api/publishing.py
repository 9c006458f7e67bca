"""Helpers of the publishing tests: a small GeoPackage inside the province, and ``POST /layers``."""

from __future__ import annotations

import time

import geopandas as gpd
import httpx
import shapely


def gpkg_of(path, n: int = 4) -> bytes:
    frame = gpd.GeoDataFrame({"Tên cây": [f"Nghiến {i}" for i in range(n)], "Tuổi": [100 + i for i in range(n)]},
                             geometry=[shapely.Point(106.70 + i / 2000, 21.90) for i in range(n)], crs=4326)
    frame.to_file(path, driver="GPKG")
    return path.read_bytes()


def post_layer(url: str, content: bytes, filename: str, key: str | None, **fields: str) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    return httpx.post(f"{url}/layers", files={"file": (filename, content)}, data=fields, headers=headers, timeout=120)


def eventually(check, seconds: float) -> bool:
    """Whether ``check()`` becomes true within ``seconds`` (grants and catalogue changes reach every door
    within a second: LISTEN/NOTIFY plus the callers' short caches)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
