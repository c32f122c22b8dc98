"""Pause and resume: for every job of this installation at once, in this process or another.

A file the engine's pacers read ten times a second (engine.meter.control), so the app's menu and
`backbeat pause` act within a second on a backup run by anyone.
"""

from __future__ import annotations

from engine.meter.control import Pause, current_pause
from engine.meter.control import pause as _pause
from engine.meter.control import resume as _resume

__all__ = ["Pause", "pause", "resume", "paused"]


def pause(seconds: float | None = None) -> Pause:
    """Pause uploads of every job of this installation (None: until resume)."""
    return _pause(seconds)


def resume() -> bool:
    """True when uploads were paused."""
    return _resume()


def paused() -> Pause | None:
    return current_pause()
