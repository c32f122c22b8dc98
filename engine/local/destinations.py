"""Which repository each destination held when this computer last reached it.

A repository's id names its keychain entry and its local state; reading it needs the destination.
Remembered here, the app starts at login before the Wi-Fi is up (or with the backup drive
unplugged): it finds the passphrase, shows its state and protects as soon as the destination is
back. A destination that later answers with another id is remembered anew.
"""

from __future__ import annotations

import json

from engine.base.files import write_atomic
from engine.base.home import app_dir

__all__ = ["remembered_repository", "remember_repository"]


def _path():
    return app_dir() / "destinations.json"


def _read() -> dict[str, str]:
    try:
        doc = json.loads(_path().read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in doc.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(doc, dict) else {}


def remembered_repository(location: str) -> str | None:
    return _read().get(location)


def remember_repository(location: str, repo_id: str) -> None:
    known = _read()
    if known.get(location) != repo_id:
        write_atomic(_path(), json.dumps(known | {location: repo_id}, indent=1))
