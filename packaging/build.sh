#!/usr/bin/env bash
# Builds the app bundle with PyInstaller: dist/Backbeat.app on macOS, dist/backbeat/ (one folder) on Linux.
#   bash packaging/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app >/dev/null
.venv/bin/python -m pip install -q "pyinstaller>=6.10" "pillow>=10" >>.venv/install.log 2>&1
# the app icon, rendered from its SVG (PyInstaller turns the PNG into the macOS .icns)
mkdir -p build
QT_QPA_PLATFORM=offscreen .venv/bin/python - <<'PY'
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
app = QGuiApplication([])
image = QImage(1024, 1024, QImage.Format_ARGB32)
image.fill(0)
painter = QPainter(image)
QSvgRenderer("resources/icons/backbeat.svg").render(painter)
painter.end()
image.save("build/backbeat.png")
PY
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller packaging/backbeat.spec
echo "Built: $(ls -d dist/*)"
