# Lạng Sơn SDI — `make run` serves the platform, `make test` runs the tests.
# Both set up everything first: OS packages (PostgreSQL + PostGIS) when missing, a .venv
# with the project, the embedded PostGIS cluster under .sdi/, migrations, bundled data.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt 2>/dev/null | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: run test setup system-deps venv web glyphs up serve db-stop lint bench screenshots notebooks-clean clean

run: setup up serve

test: setup up
# docker-compose for the compose check, QGIS (system Python) for the QGIS interoperability tests,
# chromium for the web map tests (driven by Playwright, no browser download);
# optional off Debian: the tests that need them are then skipped, with the reason.
	@scripts/system-deps.sh docker-compose python3-qgis qgis-providers chromium || true
# QGIS 3.40 LTR in a Debian 13 root under .sdi/qgis340 (mmdebstrap; ~1.3 min and 1.7 GB the first time, then
# skipped): the second QGIS of tests/api/test_qgis340.py, skipped with the reason if it cannot be built.
	@scripts/qgis340-root.sh || echo "Cảnh báo / warning: no QGIS 3.40 root: its tests are skipped" >&2
	$(BIN)/pytest $(PYTEST_ARGS)

setup: system-deps venv web

# The web map's bundle (MapLibre GL JS + the app, from the npm registry, built by esbuild) is
# committed in web/dist; with node/npm present it is rebuilt when its sources or lockfile change.
web: web/dist/app.js

web/dist/app.js: web/package.json web/package-lock.json web/build.mjs $(wildcard web/src/*)
	@if command -v npm >/dev/null 2>&1; then \
	  echo "Bản đồ web / building the web map bundle (npm ci, esbuild)"; \
	  (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build && touch dist/app.js) \
	    || echo "Cảnh báo / warning: bundle not rebuilt, the committed web/dist is served" >&2; \
	else echo "npm không có / no npm: the committed web/dist bundle is served"; fi

# The labels' glyphs (web/dist/glyphs, committed): DejaVu Sans drawn as signed distance fields by
# FreeType (Pillow) and SciPy, in the 256-character ranges Vietnamese names use.
glyphs: venv
	$(BIN)/python scripts/build_glyphs.py

# PostgreSQL + PostGIS (unless SDI_DATABASE_URL); DejaVu Sans for the PDF reports (Vietnamese), wanted
# but not required to serve.
system-deps:
	@scripts/system-deps.sh
	@scripts/system-deps.sh fonts-dejavu-core || echo "Cảnh báo / warning: no DejaVu Sans: PDF reports will fail" >&2

venv: $(STAMP)

$(STAMP):
	@PY="$${PYTHON:-$$(scripts/find-python.sh)}" || exit 1; \
	  if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	    echo "Tạo môi trường / creating $(VENV) with $$PY"; rm -rf $(VENV); "$$PY" -m venv $(VENV); fi
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

up:
	$(BIN)/sdi up

serve:
	$(BIN)/sdi serve

# Re-take the README's screenshots (docs/screenshots) with the browser tests.
screenshots: setup up
	SDI_SCREENSHOTS=1 $(BIN)/pytest tests/web

# The notebooks are committed without outputs (tests/notebooks checks it): clear them before a commit.
notebooks-clean: venv
	$(BIN)/python scripts/clean_notebooks.py

db-stop:
	$(BIN)/sdi db stop

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy sdi layers rasters ops api
	$(BIN)/lint-imports

bench: setup up
	@scripts/system-deps.sh gdal-bin
	$(BIN)/python benchmarks/load_bench.py
	$(BIN)/python benchmarks/webmap_bench.py
	$(BIN)/python benchmarks/ogc_bench.py
	$(BIN)/python benchmarks/raster_bench.py
	$(BIN)/python benchmarks/publish_bench.py
	$(BIN)/python benchmarks/load_test.py

clean:
	-$(BIN)/sdi db stop
	rm -rf $(VENV) .sdi
