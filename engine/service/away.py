"""A destination out of reach, and when that is worth interrupting the user for.

A laptop offline for an afternoon, or its backup drive left at home, is normal: protection tries
again by itself and the Status page says so, so a notification at the first failed try would cry
wolf every morning. Once nothing has been backed up for a day, the user needs to know: their
newest work is not protected. Both answers come from this computer's own records, without the
destination (which is, after all, away).
"""

from __future__ import annotations

from datetime import datetime

from engine.base.units import format_when
from engine.jobs.session import state_path
from engine.local.destinations import remembered_repository
from engine.local.state import State

__all__ = ["NOTICE_AFTER", "last_backed_up", "away_notice"]

#: how long a destination may be out of reach before the user is told (seconds)
NOTICE_AFTER = 24 * 3600.0


def last_backed_up(location: str) -> float | None:
    """Wall time the newest backup to `location` made on this computer ended; None when none is
    known (never backed up here, or the destination was never reached)."""
    repo_id = remembered_repository(location)
    if repo_id is None or not state_path(repo_id).exists():
        return None
    state = State(state_path(repo_id))
    try:
        return state.last_success("backup")
    finally:
        state.close()


def away_notice(location: str, last_backup: float | None, away_since: float, now: float) -> str | None:
    """What to tell the user once the destination has been out of reach too long (None: not yet).
    Counted from the last backup, or, with none known, from the first failed try."""
    since = away_since if last_backup is None else last_backup
    if now - since < NOTICE_AFTER:
        return None
    when = format_when(datetime.fromtimestamp(since), datetime.fromtimestamp(now))
    return (
        f"Nothing has been backed up to {location} since {when}: Backbeat cannot reach it. "
        "Connect to the internet (or plug in the backup drive); Backbeat carries on by itself."
    )
