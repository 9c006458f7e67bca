#!/usr/bin/env bash
# Install the OS packages the platform needs when they are missing (Debian/Ubuntu):
# PostgreSQL server + PostGIS for the embedded cluster. Skipped when SDI_DATABASE_URL
# points at an external PostGIS. Extra packages can be named as arguments (e.g. gdal-bin).
set -euo pipefail
extra=("$@")
have_postgis() { ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; }
need=()
if [ -z "${SDI_DATABASE_URL:-}" ] && ! have_postgis; then need+=(postgis); fi
for pkg in "${extra[@]}"; do
  case "$pkg" in
    gdal-bin) command -v ogr2ogr >/dev/null 2>&1 || need+=(gdal-bin) ;;
    fonts-dejavu-core) [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core) ;;
    *) dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg") ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Thiếu / missing: ${need[*]}. Install PostgreSQL + PostGIS with your OS package manager," >&2
  echo "or set SDI_DATABASE_URL to an existing PostGIS database." >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "Cài gói hệ thống / installing OS packages: ${need[*]}" >&2
$SUDO apt-get update -qq
pkgs=()
for pkg in "${need[@]}"; do
  if [ "$pkg" = postgis ]; then
    # The PostGIS package is named after the server's major version: install the server first.
    $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    major=$(ls /usr/lib/postgresql | sort -n | tail -1)
    pkgs+=("postgresql-${major}-postgis-3")
  else
    pkgs+=("$pkg")
  fi
done
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
have_postgis || { echo "PostGIS did not install" >&2; exit 1; }
