#!/usr/bin/env bash
# A Debian 13 (trixie) root with QGIS 3.40 LTR (python3-qgis + qgis-providers, no recommends) under
# .sdi/qgis340/root, for the tests that drive a current QGIS beside Debian 12's 3.22
# (tests/qgis/qgis340.py runs the scripts inside it; see tests/api/test_qgis340.py).
# Built by mmdebstrap (Debian's own tool, installed here when missing) from deb.debian.org; the
# downloaded .debs are kept in .sdi/qgis340/cache, so a rebuild on the same machine downloads
# nothing. Idempotent: a complete root carries a stamp naming what it was built from, and is
# skipped. Needs root (chroot); off Debian or without root it says why and fails, and the tests
# that need it skip with that reason.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
base="${SDI_QGIS340_DIR:-$here/.sdi/qgis340}"
root="$base/root"
cache="$base/cache"
mirror="${SDI_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages="python3-qgis,qgis-providers"
want="trixie $packages $mirror"
stamp="$root/.sdi-qgis340-complete"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "QGIS 3.40: cần quyền root để tạo gốc Debian 13 / root is needed to build the Debian 13 root" >&2
  exit 1
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "QGIS 3.40: mmdebstrap missing and no apt-get" >&2; exit 1; }
  echo "Cài / installing mmdebstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

echo "Tạo gốc Debian 13 với QGIS 3.40 / building the Debian 13 root with QGIS 3.40 in $root" >&2
started=$(date +%s)
rm -rf "$root" "$root.partial"
mkdir -p "$cache" "$base"
# Built into a .partial directory and renamed at the end, so an interrupted build is never taken for
# a complete one. The cache hooks are mmdebstrap's documented way to keep the archives between runs.
mmdebstrap --variant=apt --mode=root \
  --aptopt='APT::Install-Recommends "false"' \
  --include="$packages" \
  --skip=essential/unlink \
  --setup-hook="mkdir -p \"\$1\"/var/cache/apt/archives/" \
  --setup-hook="sync-in '$cache' /var/cache/apt/archives/" \
  --customize-hook="sync-out /var/cache/apt/archives '$cache'" \
  --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
  trixie "$root.partial" "$mirror"
mv "$root.partial" "$root"
chroot "$root" python3 -c 'from qgis.core import Qgis; print(Qgis.version())' >&2
echo "$want" >"$stamp"
echo "QGIS 3.40 root: $(( $(date +%s) - started )) s, $(du -sh "$root" | cut -f1) (cache $(du -sh "$cache" | cut -f1))" >&2
