"""Browser fixtures: Debian's chromium driven by Playwright (no browser download), the rasters
the rangers' view compares, and helpers to read what the page shows.

Chromium runs headless with the flags this sandbox needs and a fresh profile per context.
Tests are skipped, with the reason, where ``/usr/bin/chromium`` or Playwright is missing.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from sdi.settings import Settings

CHROMIUM = os.environ.get("SDI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
#: The README's screenshots are re-taken only when asked (``make screenshots``, SDI_SCREENSHOTS=1), so a
#: test run leaves the working tree clean; otherwise they go to a temporary folder (still taken and
#: checked, and kept for a look after a failure).
SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots" if os.environ.get("SDI_SCREENSHOTS")
               else Path(tempfile.gettempdir()) / f"sdi-screenshots-{os.getuid()}")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; make test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        # launch() gives every context a fresh temporary profile (--user-data-dir)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Page:
    """A page of the web map with what it logged and every URL it asked for."""

    def __init__(self, browser, base: str, key: str | None = None, viewport: dict | None = None,
                 lang: str = "vi") -> None:
        self.base = base
        self.context = browser.new_context(viewport=viewport or DESKTOP, device_scale_factor=1,
                                           is_mobile=bool(viewport and viewport["width"] < 700),
                                           has_touch=bool(viewport and viewport["width"] < 700))
        script = f"localStorage.setItem('sdi-lang', {lang!r});"
        if key:
            script += f"sessionStorage.setItem('sdi-api-key', {key!r});"
        self.context.add_init_script(script)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))

    def open(self, path: str = "/") -> Page:
        self.page.goto(self.base + path)
        self.page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        return self

    def wait_idle(self) -> None:
        """Until the map(s) have drawn every tile asked for."""
        self.page.wait_for_function(
            "() => { const s = window.sdiMap; return s && s.map.loaded() && s.map.areTilesLoaded()"
            " && (!s.mapB || (s.mapB.loaded() && s.mapB.areTilesLoaded())); }", timeout=30_000)
        self.page.wait_for_timeout(300)

    def outside_requests(self) -> list[str]:
        return [u for u in self.requests if not (u.startswith(self.base) or u.startswith("blob:")
                                                 or u.startswith("data:"))]

    def screenshot(self, name: str | None = None, **kw) -> bytes:
        png = self.page.screenshot(**kw)
        if name:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (SCREENSHOTS / name).write_bytes(png)
        return png

    def close(self) -> None:
        self.context.close()


@pytest.fixture()
def open_page(browser, live_server) -> Iterator:
    pages: list[Page] = []

    def make(key: str | None = None, viewport: dict | None = None, lang: str = "vi") -> Page:
        page = Page(browser, live_server.url, key, viewport, lang)
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.close()


def colours(png: bytes, box: tuple[int, int, int, int] | None = None) -> dict:
    """Distinct colours and the share of the most common one in a screenshot (or a box of it)."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    if box:
        img = img.crop(box)
    counts = img.getcolors(maxcolors=1 << 20) or []
    total = img.width * img.height
    top = max((c for c, _ in counts), default=0)
    return {"distinct": len(counts), "dominant_share": top / total}


@pytest.fixture(scope="module")
def flights(engine: Engine, settings: Settings, seeded: dict, tmp_path_factory) -> Iterator[list]:
    """Two UAV flights of the same field on two dates (uav_rgb, internal) and a DEM (public),
    ingested with the ingest library into the live server's store; removed afterwards."""
    from tests.uav_ingest import rasters
    from uav_ingest.ingest import ingest_file

    work = tmp_path_factory.mktemp("web-rasters")
    made = []
    for seed, when in ((11, "2026-03-15T09:30:00+07:00"), (12, "2026-05-20T10:00:00+07:00")):
        path = rasters.uav_rgb(work / f"web_flight_{seed}.tif", width=800, height=600, res=0.1, seed=seed)
        made.append(ingest_file(path, collection_id="uav_rgb", when=dt.datetime.fromisoformat(when),
                                engine=engine, settings=settings, platform="DJI Mavic 3E"))
    dem = ingest_file(rasters.dem(work / "web_dem.tif"), collection_id="dem",
                      when=dt.datetime(2026, 1, 10, tzinfo=dt.UTC), engine=engine, settings=settings)
    yield made + [dem]
    ids = [r.item_id for r in [*made, dem]]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM raster_items WHERE id = ANY(:ids)").bindparams(ids=ids))
    shutil.rmtree(work, ignore_errors=True)
