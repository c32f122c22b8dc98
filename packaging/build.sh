#!/usr/bin/env bash
# Builds the app bundle with PyInstaller: dist/Backbeat.app on macOS, dist/backbeat/ (one folder) on Linux.
#   bash packaging/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app >/dev/null
.venv/bin/python -m pip install -q "pyinstaller>=6.10" >>.venv/install.log 2>&1
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller packaging/backbeat.spec
echo "Built: $(ls -d dist/*)"
