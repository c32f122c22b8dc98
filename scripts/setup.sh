#!/usr/bin/env bash
# Creates (or updates) the project's virtual environment in .venv and installs Backbeat into it,
# saying what it does at each step (a first run downloads about 1 GB: PySide6 is most of it).
#   scripts/setup.sh            the engine and the app
#   scripts/setup.sh test       plus what the tests need (pytest, pytest-qt, S3 servers, linters)
# On Debian/Ubuntu it also installs the system libraries Qt needs, when run as root (or via sudo), and for
# `test` iproute2 (ip, tc: the household line harness builds network namespaces with them).
# A second run with an unchanged pyproject.toml installs nothing and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-app}"
step() { printf '==> %s\n' "$*"; }

# What Qt's xcb (X11) and Wayland platform plugins load on Debian 12, dlopen'ed ones included
# (libxcb-cursor0: Qt 6.5+ refuses to start the xcb plugin without it).
qt_libs="libegl1 libgl1 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0 libxkbcommon0 libxkbcommon-x11-0
  libx11-6 libx11-xcb1 libxext6 libxrender1 libxi6 libsm6 libice6 libxcb1 libxcb-cursor0 libxcb-glx0 libxcb-icccm4
  libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0
  libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libwayland-client0 libwayland-cursor0
  libwayland-egl1"
[ "$extra" = test ] && qt_libs="$qt_libs iproute2"
if command -v dpkg >/dev/null 2>&1; then
  missing=""
  for p in $qt_libs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    step "System libraries for Qt:$missing"
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
    { $sudo apt-get update -q && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; } \
      || echo "warning: could not install$missing; the desktop app (or the household harness) may not run" >&2
  else
    step "System libraries for Qt: all present"
  fi
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Backbeat needs Python 3.11 or newer" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  step "Creating the virtual environment in .venv"
  if ! python3 -m venv .venv 2>/dev/null; then
    # Debian's own python3 ships venv separately
    rm -rf .venv
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
    python3 -m venv .venv
  fi
fi

# The install is redone only when what it depends on changed: pyproject.toml and the extra chosen.
stamp=".venv/installed-$extra"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  step "Python packages ($extra): up to date in .venv"
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip \
  || echo "warning: pip could not be updated; going on with $(.venv/bin/python -m pip --version | cut -d' ' -f1-2)" >&2
step "Installing Backbeat and its Python packages ($extra) into .venv (a first run downloads about 1 GB)"
log=.venv/install.log
# Shown: each package as it is collected and downloaded, with its size, and what was installed;
# the whole of pip's output goes to the log.
if ! .venv/bin/python -m pip install -e ".[$extra]" 2>&1 | tee "$log" \
  | { grep -E --line-buffered '^ *(Collecting|Downloading|Installing collected|Successfully installed|ERROR|WARNING)' || true; }; then
  echo "error: installing Backbeat's dependencies failed (the whole log: $log)" >&2
  exit 1
fi
echo "$want" >"$stamp"
step "Done: $(.venv/bin/python -m pip list 2>/dev/null | tail -n +3 | wc -l) packages in .venv ($(du -sh .venv | cut -f1))"
