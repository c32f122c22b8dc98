"""Icons from `resources/icons` (SVG), found beside the source tree or inside a frozen bundle.

The menu-bar icon comes in two sets: on macOS black-and-clear `menubar-*` images marked as a mask,
which Qt hands to the menu bar as template images (`NSImage.template`), so the system tints them
for a light or dark menu bar like every other menu bar extra; elsewhere the coloured `tray-*`
ones, since other trays draw icons as they are."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

from engine.platform import current as platform

__all__ = ["icon", "menu_bar_icon", "resource"]


def resource(*parts: str) -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    root = Path(frozen) if frozen else Path(__file__).resolve().parents[1]
    return root.joinpath("resources", *parts)


def icon(name: str) -> QIcon:
    return QIcon(str(resource("icons", f"{name}.svg")))


def menu_bar_icon(state: str) -> QIcon:
    """The menu-bar icon of a state ("idle", "busy", "paused", "attention")."""
    if not platform().template_menu_bar_icons:
        return icon(f"tray-{state}")
    template = icon(f"menubar-{state}")
    template.setIsMask(True)
    return template
