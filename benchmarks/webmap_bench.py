"""Web map benchmark: cold load of the default view, measured in a real browser.

Starts ``sdi serve`` on a free loopback port against the configured database (``make bench``
runs ``sdi up`` first, so the bundled data is there), then opens ``/`` in Debian's chromium
(Playwright, headless, a fresh profile and an empty cache for every load) and measures:

- **time to first full render**: from navigation start to the app's ``sdi-map-ready`` mark,
  set when MapLibre is first idle with every layer of the default view added, i.e. all
  tiles and data of that view fetched, parsed and drawn (Performance API, in the page);
- **bytes transferred**: every response of the load, page and web worker (vector tiles are
  fetched by MapLibre's worker), headers plus encoded body as Chromium received them;
- the requests and where they went (all must be to the server: no CDN, no outside tiles).

The first load after the server starts is reported apart (it pays for the server's own
warm-up: the OGC configuration, database connections); the goal is judged on the median of
the next ``--repeat`` cold loads. Goal: under 2 s on loopback and under 2 MB.

Run: ``make bench`` or ``.venv/bin/python benchmarks/webmap_bench.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP  # noqa: E402


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sdi.cli", "serve", "--port", str(port)],
                            env={**os.environ, "SDI_RATE_LIMITS": "{}"},  # cold loads in a row, one address
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


def one_load(browser, url: str, viewport: dict) -> dict:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    responses = []
    page.on("requestfinished", lambda r: responses.append(r))
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    ready_ms = page.evaluate("performance.getEntriesByName('sdi-map-ready')[0].startTime")
    nav = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return {ttfb: n.responseStart, dcl: n.domContentLoadedEventEnd}; })()")
    # what the default view needed: responses finished by the ready mark (the planner's lists
    # and the DEM look-up are fetched after it, for the other views)
    page.wait_for_timeout(200)
    total = 0
    by_kind: dict[str, int] = {}
    urls = []
    for r in responses:
        sizes = r.sizes()
        size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        total += size
        u = r.url
        urls.append(u)
        kind = ("bundle" if "/webmap/static/" in u else "vector tiles" if "/tiles/" in u
                else "small layers (GeoJSON)" if "/webmap/features/" in u else "page" if u.rstrip("/") == url
                else "other API")
        by_kind[kind] = by_kind.get(kind, 0) + size
    outside = [u for u in urls if not (u.startswith(url) or u.startswith("blob:") or u.startswith("data:"))]
    context.close()
    return {"ready_ms": ready_ms, "ttfb_ms": nav["ttfb"], "dcl_ms": nav["dcl"], "bytes": total,
            "requests": len(urls), "by_kind": by_kind, "outside": outside, "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", help="an already running server (default: start one)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    proc, url = (None, args.url.rstrip("/")) if args.url else start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            first = one_load(browser, url, DESKTOP)
            runs = [one_load(browser, url, DESKTOP) for _ in range(args.repeat)]
            phone = [one_load(browser, url, {"width": 390, "height": 844}) for _ in range(3)]
            browser.close()
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
    med = statistics.median(r["ready_ms"] for r in runs)
    print(f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"first load after server start: {first['ready_ms']:.0f} ms, {first['bytes'] / 1e6:.2f} MB")
    print(f"cold loads (fresh profile, empty cache) ×{len(runs)}, desktop {DESKTOP['width']}×{DESKTOP['height']}:")
    for r in runs:
        print(f"  ready {r['ready_ms']:6.0f} ms  (TTFB {r['ttfb_ms']:.0f} ms, DOMContentLoaded {r['dcl_ms']:.0f} ms)"
              f"  {r['bytes'] / 1e6:.3f} MB in {r['requests']} requests")
    print(f"median time to first full render: {med:.0f} ms (goal < 2000 ms)")
    b = statistics.median(r["bytes"] for r in runs)
    print(f"median bytes transferred: {b / 1e6:.3f} MB (goal < 2 MB)")
    for kind, size in sorted(runs[-1]["by_kind"].items(), key=lambda kv: -kv[1]):
        print(f"  {kind:24s} {size / 1e3:8.1f} kB")
    print(f"phone 390×844, median of 3: {statistics.median(r['ready_ms'] for r in phone):.0f} ms, "
          f"{statistics.median(r['bytes'] for r in phone) / 1e6:.3f} MB")
    outside = sorted({u for r in [first, *runs, *phone] for u in r["outside"]})
    print(f"requests outside the server: {len(outside)} {outside[:5]}")
    failed = sorted({u for r in [first, *runs, *phone] for u in r["failed"]})
    if failed:
        print(f"failed requests: {failed[:5]}")
    print(f"goal met: {med < 2000 and b < 2e6 and not outside}")


if __name__ == "__main__":
    main()
