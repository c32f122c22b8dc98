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

from engine.files import write_atomic

__all__ = ["app_dir", "log_dir", "computer_id", "default_repository"]

_APP = "Backbeat"


def app_dir() -> Path:
    override = os.environ.get("BACKBEAT_HOME")
    path = Path(override) if override else Path(platformdirs.user_data_dir(_APP, _APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    override = os.environ.get("BACKBEAT_HOME")
    path = Path(override) / "logs" if override else Path(platformdirs.user_log_dir(_APP, _APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


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
