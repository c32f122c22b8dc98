"""Which snapshots a retention policy keeps, and why.

Snapshots are grouped by computer and selection (the same folders); each group is judged alone,
so one computer's backups never push out another's. Within a group the complete snapshots are
taken newest first: `last` keeps the newest N, and each calendar rule (hourly, daily, weekly,
monthly, yearly) keeps the newest snapshot of each of its N most recent periods that have one
(so a laptop that was off for a week still keeps 30 daily versions). Periods are local time:
across a DST change each real hour is its own hour, a 23- or 25-hour day is one day, and weeks
are ISO weeks (Monday first; the days around New Year may share a week with the old year).

Checkpoints are never versions: the newest of a group is kept while no complete backup is newer
(a run still under way, or interrupted), every other one is superseded. Deleted files are kept
restorable by `pins` (computed by `engine.jobs.forget` from the trees): a snapshot holding the last
copy of a file deleted within `deleted_days` is kept. Pure: no I/O, time and zone injected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from engine.config.retention import RetentionPolicy
from engine.repo.snapshot import Snapshot

__all__ = ["Decision", "evaluate", "group_of"]


@dataclass(frozen=True)
class Decision:
    snapshot: Snapshot
    keep: bool
    #: why, in words: "latest", "daily", "deleted files …", "checkpoint superseded …"
    reasons: tuple[str, ...]


def group_of(snap: Snapshot) -> tuple[str, tuple[str, ...]]:
    return snap.computer_id, tuple(sorted(snap.paths))


def _rules(policy: RetentionPolicy) -> list[tuple[str, int, Callable[[datetime, Snapshot], object]]]:
    return [
        ("latest", policy.last, lambda dt, s: s.id),
        ("hourly", policy.hourly, lambda dt, s: (dt.year, dt.month, dt.day, dt.hour, dt.fold)),
        ("daily", policy.daily, lambda dt, s: (dt.year, dt.month, dt.day)),
        ("weekly", policy.weekly, lambda dt, s: dt.isocalendar()[:2]),
        ("monthly", policy.monthly, lambda dt, s: (dt.year, dt.month)),
        ("yearly", policy.yearly, lambda dt, s: dt.year),
    ]


def evaluate(
    snaps: list[Snapshot], policy: RetentionPolicy, tz: tzinfo | None = None, pins: dict[str, str] | None = None
) -> list[Decision]:
    """A decision for every snapshot, newest first within each group. `tz` None: this computer's zone."""
    pins = pins or {}
    groups: dict[tuple, list[Snapshot]] = {}
    for s in snaps:
        groups.setdefault(group_of(s), []).append(s)
    out: list[Decision] = []
    for members in groups.values():
        members.sort(key=lambda s: s.time_ns, reverse=True)
        complete = [s for s in members if not s.checkpoint]
        left = {name: count for name, count, _ in _rules(policy)}
        last_key: dict[str, object] = {}
        for s in complete:
            dt = _local(s.time_ns, tz)
            reasons = []
            for name, _count, key_of in _rules(policy):
                key = key_of(dt, s)
                if left[name] > 0 and key != last_key.get(name):
                    reasons.append(name)
                    last_key[name] = key
                    left[name] -= 1
            if s.id in pins:
                reasons.append(pins[s.id])
            out.append(Decision(s, bool(reasons), tuple(reasons) or ("older than every rule keeps",)))
        out.extend(_checkpoints([s for s in members if s.checkpoint], complete[0] if complete else None))
    return out


def _checkpoints(checkpoints: list[Snapshot], newest: Snapshot | None) -> list[Decision]:
    out = []
    for i, c in enumerate(checkpoints):  # newest first
        if newest is not None and newest.time_ns > c.time_ns:
            out.append(Decision(c, False, (f"checkpoint superseded by the complete backup {newest.short_id}",)))
        elif i == 0:
            out.append(Decision(c, True, ("checkpoint of a backup not finished yet",)))
        else:
            out.append(
                Decision(c, False, (f"checkpoint superseded by the newer checkpoint {checkpoints[0].short_id}",))
            )
    return out


def _local(time_ns: int, tz: tzinfo | None) -> datetime:
    return datetime.fromtimestamp(time_ns / 1e9, tz)  # naive local time when None; `fold` marks DST's repeated hour
