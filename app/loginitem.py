"""Start at login, as the system does it (`engine.platform`: a launchd agent on macOS, an XDG
autostart entry elsewhere), for the command that starts this app: the bundle's executable, or
this Python with `-m app`.

`backbeat-app --install-login-item` writes it and `--remove-login-item` removes it; the first-run
dialog offers it (on by default).
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.platform import current as platform

__all__ = ["install", "remove", "installed"]


def _command() -> list[str]:
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "app"]


def installed(home: Path | None = None) -> bool:
    path, _ = platform().login_item(_command(), home)
    return path.exists()


def install(program: str | None = None, home: Path | None = None) -> str:
    path, data = platform().login_item([program] if program else _command(), home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"Backbeat will start at login ({path})."


def remove(home: Path | None = None) -> str:
    path, _ = platform().login_item(_command(), home)
    path.unlink(missing_ok=True)
    return "Backbeat will no longer start at login."
