# The Lạng Sơn SDI application image. The database is a separate PostGIS service
# (docker-compose.yml), reached through SDI_DATABASE_URL.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SDI_HOST=0.0.0.0 SDI_PORT=8000
RUN apt-get update && apt-get install -y --no-install-recommends curl fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 sdi
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY sdi sdi
COPY layers layers
COPY rasters rasters
COPY tiles tiles
COPY uav_ingest uav_ingest
COPY change change
COPY ops ops
COPY api api
RUN pip install --no-cache-dir -c constraints.txt .
COPY data data
# the web map's bundle (MapLibre GL JS + app, built from the npm registry; committed in web/dist)
COPY web/dist web/dist
USER sdi
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=5 \
    CMD curl -fsS http://127.0.0.1:8000/health || exit 1
# `sdi up` migrates and loads the bundled data (skipped when unchanged), then serve.
CMD ["sh", "-c", "sdi up && sdi serve"]
