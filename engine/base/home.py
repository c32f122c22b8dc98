"""Where this installation lives: its app-data folder, its log folder and its computer ID.

`BACKBEAT_HOME` overrides the platform's folders (tests isolate themselves with it); otherwise
platformdirs gives ~/Library/Application Support/Backbeat on macOS and ~/.local/share/Backbeat
on Linux. The computer ID is a GUID made once per installation, for support and snapshots.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import platformdirs

from engine.base.files import write_atomic

__all__ = ["app_dir", "log_dir", "computer_id", "default_repository"]

_APP = "Backbeat"


def _private(path: Path) -> Path:
    """Made, and kept, readable by this user only: the state database lists every path backed up,
    the logs name files, the outbox holds packs (another user of the Mac read them at 0755)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def app_dir() -> Path:
    override = os.environ.get("BACKBEAT_HOME")
    return _private(Path(override) if override else Path(platformdirs.user_data_dir(_APP, _APP)))


def log_dir() -> Path:
    override = os.environ.get("BACKBEAT_HOME")
    return _private(Path(override) / "logs" if override else Path(platformdirs.user_log_dir(_APP, _APP)))


def default_repository() -> Path:
    """The embedded default repository: a folder in the app-data folder, no server needed."""
    return app_dir() / "repository"


def computer_id() -> str:
    path = app_dir() / "computer-id"
    try:
        return str(uuid.UUID(path.read_text().strip()))
    except (FileNotFoundError, ValueError):
        value = str(uuid.uuid4())
        write_atomic(path, value + "\n", durable=True)
        return value
