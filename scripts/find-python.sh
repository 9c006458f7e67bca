#!/usr/bin/env bash
# Print the path of a Python >= 3.12 (pygeoapi >= 0.24 needs it): PATH first, then pyenv.
set -u
ok() { "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for name in python3.12 python3.13 python3 python; do
  if command -v "$name" >/dev/null 2>&1 && ok "$name"; then command -v "$name"; exit 0; fi
done
roots=()
command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root)")
roots+=("${PYENV_ROOT:-$HOME/.pyenv}" /root/.pyenv /usr/local/pyenv)
for root in "${roots[@]}"; do
  for py in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V); do
    if ok "$py"; then echo "$py"; exit 0; fi
  done
done
cat >&2 <<'MSG'
Không tìm thấy Python >= 3.12 / no Python >= 3.12 found.
Install one, e.g.:  Ubuntu 24.04: sudo apt-get install python3 python3-venv
                    Debian 12:    pyenv install 3.12   (or use the deadsnakes/uv builds)
then run `make run` again, or set PYTHON=/path/to/python3.12.
MSG
exit 1
