"""Icons from `resources/icons` (SVG), found beside the source tree or inside a frozen bundle."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

__all__ = ["icon", "resource"]


def resource(*parts: str) -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    root = Path(frozen) if frozen else Path(__file__).resolve().parents[1]
    return root.joinpath("resources", *parts)


def icon(name: str) -> QIcon:
    return QIcon(str(resource("icons", f"{name}.svg")))
