"""What makes an app start when the user logs in: a launchd agent on macOS
(`~/Library/LaunchAgents/<label>.plist`; launchd.plist(5)), an XDG autostart entry elsewhere
(`~/.config/autostart/<label>.desktop`, the desktops' common way). Pure functions of the command
and the home folder: both are tested on every system (writing one on a Mac is the darwin
platform's `login_item`)."""

from __future__ import annotations

import os
import plistlib
from pathlib import Path

__all__ = ["LABEL", "launch_agent", "agent_path", "autostart_entry", "autostart_path"]

LABEL = "app.backbeat.Backbeat"


def launch_agent(command: list[str]) -> bytes:
    """The agent: started at login in the user's graphical session, started again if it crashes
    (not when the user quits it)."""
    return plistlib.dumps(
        {
            "Label": LABEL,
            "ProgramArguments": command,
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }
    )


def agent_path(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def autostart_entry(command: list[str]) -> bytes:
    quoted = " ".join(f'"{c}"' if any(ch in c for ch in ' \t"\\$`') else c for c in command)
    return (
        "[Desktop Entry]\nType=Application\nName=Backbeat\nComment=Backs up your files as they change\n"
        f"Exec={quoted}\nX-GNOME-Autostart-enabled=true\n"
    ).encode()


def autostart_path(home: Path | None) -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") if home is None else None
    return (Path(config) if config else (home or Path.home()) / ".config") / "autostart" / f"{LABEL}.desktop"
