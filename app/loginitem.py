"""Start at login: on macOS a launchd agent in ~/Library/LaunchAgents, written from the template in
`resources/`; elsewhere an XDG autostart entry (~/.config/autostart, the desktops' common way).

`backbeat-app --install-login-item` writes it (naming the running bundle's executable, or this
Python running `-m app`) and `--remove-login-item` removes it; the first-run dialog offers it.
"""

from __future__ import annotations

import os
import plistlib
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from app.icons import resource

__all__ = ["LABEL", "render", "install", "remove", "agent_path", "autostart_path", "installed"]

LABEL = "app.backbeat.Backbeat"


def render(program: str) -> bytes:
    """The agent's plist for `program` (validated: a malformed template must not be installed)."""
    text = resource("launchd", f"{LABEL}.plist").read_text().replace("{program}", escape(program))
    data = text.encode()
    plistlib.loads(data)
    return data


def agent_path(home: Path | None = None) -> Path:
    return (home or Path.home()) / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def autostart_path(home: Path | None = None) -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") if home is None else None
    return (Path(config) if config else (home or Path.home()) / ".config") / "autostart" / f"{LABEL}.desktop"


def _command() -> list[str]:
    """What starts this app: the bundle's executable, or this Python with `-m app`."""
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "app"]


def _desktop_entry(command: list[str]) -> str:
    quoted = " ".join(f'"{c}"' if any(ch in c for ch in ' \t"\\$`') else c for c in command)
    return (
        "[Desktop Entry]\nType=Application\nName=Backbeat\nComment=Backs up your files as they change\n"
        f"Exec={quoted}\nX-GNOME-Autostart-enabled=true\n"
    )


def installed(home: Path | None = None) -> bool:
    return (agent_path(home) if sys.platform == "darwin" else autostart_path(home)).exists()


def install(program: str | None = None, home: Path | None = None) -> str:
    if sys.platform == "darwin":
        path = agent_path(home)
        data = render(program or sys.executable)
    else:
        path = autostart_path(home)
        data = _desktop_entry([program] if program else _command()).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"Backbeat will start at login ({path})."


def remove(home: Path | None = None) -> str:
    (agent_path(home) if sys.platform == "darwin" else autostart_path(home)).unlink(missing_ok=True)
    return "Backbeat will no longer start at login."
