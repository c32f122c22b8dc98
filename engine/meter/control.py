"""How this installation's processes talk to each other: a pause file and a live activity file.

`backbeat pause` in a terminal, the app's Pause button and a backup running in the background are
different processes. They share two small JSON files in the app-data folder, written atomically:

- `paused`: present while the user has paused uploads, with an optional end time. Every running
  job looks at it four times a second (a stat), so sending stops within a second; it outlives a
  restart, as a pause the user asked for should.
- `activity.json`: what a running job is doing now (its limit, why, the measured upload rate),
  rewritten every second, so `backbeat status` in another process can show it. It is ignored
  once its process is gone or it is a few seconds stale.

A file was chosen over a socket: nothing listens, nothing to clean up after a crash, and it
works the same on macOS and Linux.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.files import write_atomic
from engine.base.home import app_dir

__all__ = ["Pause", "pause", "resume", "current_pause", "publish_activity", "read_activity", "clear_activity"]

_STALE = 5.0


def _read(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


@dataclass(frozen=True)
class Pause:
    since: float
    #: wall-clock time at which it ends by itself, None: until resumed
    until: float | None


def _pause_path() -> Path:
    return app_dir() / "paused"


def pause(seconds: float | None = None, clock: Clock = SYSTEM_CLOCK) -> Pause:
    """Pause uploads for `seconds` (None: until `resume`)."""
    now = clock.wall()
    p = Pause(now, now + seconds if seconds else None)
    write_atomic(_pause_path(), json.dumps({"since": p.since, "until": p.until}))
    return p


def resume() -> bool:
    """True if uploads were paused."""
    try:
        _pause_path().unlink()
        return True
    except FileNotFoundError:
        return False


def current_pause(clock: Clock = SYSTEM_CLOCK) -> Pause | None:
    doc = _read(_pause_path())
    if doc is None:
        return None
    until = doc.get("until")
    if until is not None and clock.wall() >= float(until):
        return None  # over by itself
    return Pause(float(doc.get("since", 0.0)), float(until) if until is not None else None)


def _activity_path() -> Path:
    return app_dir() / "activity.json"


def publish_activity(doc: dict, clock: Clock = SYSTEM_CLOCK) -> None:
    write_atomic(_activity_path(), json.dumps(doc | {"pid": os.getpid(), "updated": clock.wall()}))


def clear_activity() -> None:
    doc = _read(_activity_path())
    if doc is not None and doc.get("pid") == os.getpid():
        _activity_path().unlink(missing_ok=True)


def read_activity(clock: Clock = SYSTEM_CLOCK) -> dict | None:
    """What a job running in any process of this installation is doing now, or None."""
    doc = _read(_activity_path())
    if doc is None or clock.wall() - float(doc.get("updated", 0)) > _STALE:
        return None
    if not psutil.pid_exists(int(doc.get("pid", -1))):
        return None
    return doc
