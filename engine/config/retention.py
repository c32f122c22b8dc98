"""Retention policy: which snapshots to keep, in the terms people use for Time Machine.

What the user chose, and its plain-words description; `engine.jobs.keep` applies it to snapshots.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

__all__ = ["RetentionPolicy"]


@dataclass(frozen=True)
class RetentionPolicy:
    #: always at least 1: the newest backup of every group is never removed
    last: int = 1
    hourly: int = 24
    daily: int = 30
    weekly: int = 52
    monthly: int = 24
    yearly: int = 10
    #: a file deleted from the computer stays restorable this many days (0: only while a kept version has it)
    deleted_days: int = 90

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} cannot be negative")
        if self.last < 1:
            object.__setattr__(self, "last", 1)

    def describe(self) -> str:
        """The policy in plain words, for the CLI and the Settings page."""
        parts = [f"the latest {_n(self.last, 'backup')}" if self.last > 1 else "the latest backup"]
        for count, every, unit in (
            (self.hourly, "one an hour", "hour"),
            (self.daily, "one a day", "day"),
            (self.weekly, "one a week", "week"),
            (self.monthly, "one a month", "month"),
            (self.yearly, "one a year", "year"),
        ):
            if count:
                parts.append(f"{every} for the last {_n(count, unit)} with a backup")
        said = "Keeps " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + "."
        if self.deleted_days:
            said += f" Deleted files stay restorable for {_n(self.deleted_days, 'day')}."
        return said

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> RetentionPolicy:
        known = {f.name: doc[f.name] for f in fields(cls) if isinstance(doc.get(f.name), int) and doc[f.name] >= 0}
        return cls(**known)


def _n(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"
