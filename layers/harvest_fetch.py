"""Reaching another agency's service for ``layers.harvest``: is the URL safe, what service is it, and
its collections' features copied to a local GeoPackage.

- ``check_url``: only http(s), and a host that resolves to public addresses only, unless it is in
  ``SDI_HARVEST_ALLOW_HOSTS`` (a registered URL is fetched by the server: without this an admin's URL
  could make it read the machine's own or the internal network's services — SSRF);
- ``detect``: OGC API Features (OWSLib ``Features``: landing page, then ``/collections``) or WFS 2.0
  (OWSLib ``WebFeatureService`` 2.0.0: GetCapabilities); neither is a clear refusal;
- ``download``: GDAL's OAPIF or WFS driver through pyogrio reads a collection (paging is the driver's),
  written to a GeoPackage so the platform's one validating path (``layers.sources`` → ``layers.loader``)
  reads it like any agency's file.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlsplit

import pyogrio
from owslib.ogcapi.features import Features
from owslib.wfs import WebFeatureService

from sdi.errors import InvalidInputError
from sdi.settings import Settings

NOT_OGC = ("Không phải dịch vụ OGC API Features hay WFS 2.0 / {url} is not an OGC API Features or WFS 2.0 "
           "service (no landing page with collections, no WFS 2.0 capabilities)")


@dataclass(frozen=True)
class Service:
    """What ``detect`` found: the kind, and each collection's id → (title, description)."""

    kind: str  # "oapif" | "wfs"
    collections: dict[str, tuple[str, str]]


class SourceError(Exception):
    """The service could not be read now (down, timed out, answered nonsense): the previous copy stays."""


def check_url(url: str, settings: Settings) -> str:
    """``url`` if it may be harvested (see the module docstring); ``InvalidInputError`` otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"Địa chỉ không hợp lệ / {url!r} is not an http(s) URL of a service")
    host = parts.hostname
    if host in settings.harvest_allow_hosts:
        return url.strip()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except (socket.gaierror, ValueError) as exc:
        raise InvalidInputError(f"Không tìm thấy máy chủ / the host {host!r} of {url!r} does not resolve") from exc
    for address in addresses:
        if not ip_address(address.split("%")[0]).is_global:
            raise InvalidInputError(
                f"Địa chỉ nội bộ bị từ chối / {url!r} points to a private or loopback address ({address}); an "
                "operator may allow the host in SDI_HARVEST_ALLOW_HOSTS")
    return url.strip()


def detect(url: str, settings: Settings) -> Service:
    """The kind of service at ``url`` and its collections (``InvalidInputError`` if it is neither)."""
    timeout = settings.harvest_timeout_s
    wfs_first = "service=wfs" in url.lower().replace(" ", "")
    for kind in (("wfs", "oapif") if wfs_first else ("oapif", "wfs")):
        try:
            if kind == "oapif":
                api = Features(url, timeout=timeout)
                listed = api.collections().get("collections", [])
                collections = {c["id"]: (c.get("title") or c["id"], c.get("description") or "") for c in listed
                               if isinstance(c, dict) and c.get("id")}
            else:
                wfs = WebFeatureService(url, version="2.0.0", timeout=timeout)
                collections = {name: (meta.title or name, meta.abstract or "") for name, meta in wfs.contents.items()}
        except Exception:  # noqa: BLE001 — any failure (HTTP, JSON, XML) means "not this kind"; the other is tried
            continue
        if collections:
            return Service(kind, collections)
    raise InvalidInputError(NOT_OGC.format(url=url))


def gdal_name(kind: str, url: str) -> str:
    """The GDAL connection string of a service (OAPIF: the landing page; WFS: the endpoint)."""
    return f"OAPIF:{url}" if kind == "oapif" else f"WFS:{url}"


def download(kind: str, url: str, collection: str, target: Path, settings: Settings) -> Path:
    """``collection`` of the service, read by GDAL (paged by the driver) into the GeoPackage ``target``;
    ``SourceError`` when the service cannot be read now."""
    check_url(url, settings)  # again at each run: a name may resolve elsewhere since it was added
    options = {"GDAL_HTTP_TIMEOUT": str(settings.harvest_timeout_s), "GDAL_HTTP_MAX_RETRY": "1"}
    previous = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        frame = pyogrio.read_dataframe(gdal_name(kind, url), layer=collection)
    except Exception as exc:  # GDAL's errors (DataSourceError, DataLayerError, …) of a remote read
        raise SourceError(f"Không đọc được nguồn / could not read {collection!r} from {url}: "
                          f"{str(exc).splitlines()[0][:300]}") from exc
    finally:
        pyogrio.set_gdal_config_options(previous)
    if frame.empty:
        raise SourceError(f"Nguồn không có đối tượng / {collection!r} at {url} returned no features")
    pyogrio.write_dataframe(frame, target, layer=collection, driver="GPKG")
    return target
