"""Start at login on macOS: a launchd agent in ~/Library/LaunchAgents, written from the template in `resources/`.

`backbeat-app --install-login-item` writes it (naming the running bundle's executable) and
`--remove-login-item` removes it. Other systems have other mechanisms; there these say so.
"""

from __future__ import annotations

import plistlib
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from app.icons import resource

__all__ = ["LABEL", "render", "install", "remove", "agent_path"]

LABEL = "app.backbeat.Backbeat"


def render(program: str) -> bytes:
    """The agent's plist for `program` (validated: a malformed template must not be installed)."""
    text = resource("launchd", f"{LABEL}.plist").read_text().replace("{program}", escape(program))
    data = text.encode()
    plistlib.loads(data)
    return data


def agent_path(home: Path | None = None) -> Path:
    return (home or Path.home()) / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def install(program: str | None = None, home: Path | None = None) -> str:
    if sys.platform != "darwin":
        return "Starting at login is set up by the macOS app; on this system use your desktop's autostart settings."
    path = agent_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render(program or sys.executable))
    return f"Backbeat will start at login ({path})."


def remove(home: Path | None = None) -> str:
    if sys.platform != "darwin":
        return "There is no login item to remove on this system."
    path = agent_path(home)
    path.unlink(missing_ok=True)
    return "Backbeat will no longer start at login."
