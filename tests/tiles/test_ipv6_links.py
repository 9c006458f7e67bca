"""``sdi serve --host ::``: IPv6 and IPv4 on one socket, and every link written for an IPv6 address."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import httpx
import pytest

from tests.conftest import start_server, stop_server


@pytest.fixture(scope="module")
def v6_server(settings, rasters, raster_store):
    server = start_server(settings, {"SDI_RASTER_STORE": str(raster_store)}, host="::")
    yield server
    stop_server(server)


def _hrefs(node) -> list[str]:
    """Every link-like string in a JSON document."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k in ("href", "url") and isinstance(v, str)] + [
            h for v in node.values() for h in _hrefs(v)]
    if isinstance(node, list):
        return [s for s in node if isinstance(s, str) and s.startswith("http")] + [h for v in node for h in _hrefs(v)]
    return []


def test_dual_stack_listens_on_ipv4_too(v6_server):
    port = v6_server.url.rsplit(":", 1)[1]
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
    assert httpx.get(f"http://[::1]:{port}/health", timeout=10).status_code == 200


def test_every_link_names_the_ipv6_address(v6_server, rasters, keys):
    base = v6_server.url
    assert base.startswith("http://[::1]:")
    with httpx.Client(base_url=base, timeout=30, follow_redirects=True, headers={"X-API-Key": keys["admin"]}) as http:
        docs = {
            "ogc landing": http.get("/ogc?f=json").json(),
            "ogc collections": http.get("/ogc/collections?f=json").json(),
            "ogc tilejson": http.get("/ogc/collections/admin_units/tiles/WebMercatorQuad/tilejson").json(),
            "stac landing": http.get("/stac").json(),
            "stac search": http.get("/stac/search?limit=2").json(),
            "raster tilejson": http.get(f"/rasters/{rasters['rgb_old'].id}/WebMercatorQuad/tilejson.json").json(),
        }
        qgs = http.get("/qgis/project.qgs")
    for name, doc in docs.items():
        links = _hrefs(doc)
        assert links, name
        wrong = [h for h in links if h.startswith("http") and h != base and not h.startswith(base + "/")
                 and "openstreetmap" not in h and "opengis.net" not in h and "stacspec" not in h
                 and "schemas" not in h and "github" not in h and "creativecommons" not in h]
        assert not wrong, (name, wrong[:5])
    assert any(t.startswith(base + "/rasters/") for t in docs["raster tilejson"]["tiles"])
    assert any(t.startswith(base + "/ogc/") for t in docs["ogc tilejson"]["tiles"])
    assert qgs.status_code == 200
    sources = [e.text or "" for e in ET.fromstring(qgs.content).iter("datasource")]
    urls = [u for s in sources for u in re.findall(r"url='?(http[^' ]+)", s) + re.findall(r"url=(http[^&' ]+)", s)]
    urls = [unquote(u) for u in urls]  # XYZ layers carry their URL percent-encoded (QGIS decodes it)
    assert any("/rasters/" in u for u in urls) and any("/ogc" in u for u in urls)
    assert all(u.startswith(base + "/") for u in urls), [u for u in urls if not u.startswith(base)][:5]


def _ogc_links(http: httpx.Client) -> dict[str, list[str]]:
    """The links of pygeoapi's own documents (landing page, collections, an items page, processes)."""
    docs = {
        "landing": http.get("/ogc/?f=json").json(),
        "collections": http.get("/ogc/collections?f=json").json(),
        "items": http.get("/ogc/collections/admin_units/items?f=json&limit=5").json(),
        "processes": http.get("/ogc/processes?f=json").json(),
    }
    return {name: [h for h in _hrefs(doc) if h.startswith("http") and "opengis.net" not in h
                   and "openstreetmap" not in h and "schemas" not in h and "github" not in h
                   and "creativecommons" not in h] for name, doc in docs.items()}


@pytest.mark.parametrize("via", ["ipv4", "host-header"])
def test_pygeoapi_links_follow_the_request_not_the_bind_address(v6_server, via):
    """Without ``SDI_PUBLIC_URL``, a server listening on ``::`` writes pygeoapi's links for the address
    each request came to: over IPv4 the IPv4 one, with a ``Host`` header that name — not ``[::1]``."""
    port = v6_server.url.rsplit(":", 1)[1]
    base = f"http://127.0.0.1:{port}" if via == "ipv4" else "http://sdi.langson.example:8443"
    headers = {} if via == "ipv4" else {"Host": "sdi.langson.example:8443"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=headers, follow_redirects=True) as http:
        links = _ogc_links(http)
    assert any(h.startswith(base + "/ogc/collections/admin_units/items") for h in links["items"])
    for name, hrefs in links.items():
        assert hrefs, name
        wrong = [h for h in hrefs if h != base and not h.startswith(base + "/")]
        assert not wrong, (name, wrong[:5])
    # the same server, asked over IPv6 at once after: its own links again (views kept per address)
    with httpx.Client(base_url=v6_server.url, timeout=30, follow_redirects=True) as http:
        assert all(h == v6_server.url or h.startswith(v6_server.url + "/") for hs in _ogc_links(http).values()
                   for h in hs)


def test_gdal_oapif_pages_through_the_ipv6_address(v6_server, catalog):
    """GDAL's OAPIF driver over ``http://[::1]:PORT/ogc`` follows pygeoapi's ``next`` links (small pages)
    to the end: every feature of the layer."""
    import pyogrio

    frame = pyogrio.read_dataframe(f"OAPIF:{v6_server.url}/ogc", layer="admin_units", page_size=10)
    assert len(frame) == catalog["admin_units"].feature_count
