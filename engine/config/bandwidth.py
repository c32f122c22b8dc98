"""Bandwidth policy: what the upload rate should be at a given moment (the bucket enforces it).

A weekly timetable follows rclone's `--bwlimit` convention, with a day-range shorthand:

    512k                                        always 512 KiB/s
    08:00,512k 23:00,off                        every day: 512 KiB/s from 08:00, unlimited from 23:00
    Mon-Fri 08:00,512k 18:00,256k 23:00,off     on weekdays; the days before a time entry are its days
    Sat-10:00,1M Sun-20:00,off                  rclone's own per-day form

Rates are bytes per second with binary k/M/G (like rclone); `off` means unlimited. An entry
holds until the next one in the week, wrapping round from Sunday night to Monday morning, so a
weekend without entries keeps Friday's last setting. `limit_at` is pure: the same timetable and
moment always give the same rate.

A `BandwidthPolicy` is what the user chose (unlimited, a fixed limit, a schedule, or automatic:
"Keep my internet usable"), kept in the backup set's settings and said back in plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from engine.base.errors import BadSchedule
from engine.base.units import format_rate, parse_rate

__all__ = [
    "Timetable",
    "parse_timetable",
    "BandwidthPolicy",
    "parse_policy",
    "SCHEDULE_DAYS",
    "ScheduleRow",
    "schedule_rows",
    "schedule_text",
]

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAY = r"(mon|tue|wed|thu|fri|sat|sun)[a-z]*"
_RANGE = re.compile(rf"^{_DAY}(?:-{_DAY})?$", re.IGNORECASE)
_ENTRY = re.compile(rf"^(?:{_DAY}-)?(\d{{1,2}}):(\d{{2}}),(\S+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Timetable:
    #: (minute of the week from Monday 00:00, bytes per second or None for unlimited), sorted
    entries: tuple[tuple[int, float | None], ...]

    def limit_at(self, when: datetime) -> float | None:
        return self.at(when)[0]

    def at(self, when: datetime) -> tuple[float | None, int]:
        """(rate in force, minute of the week at which the next entry takes over)."""
        minute = when.weekday() * 1440 + when.hour * 60 + when.minute
        current, following = self.entries[-1][1], self.entries[0][0]  # before the week's first entry: last week's last
        for i, (start, rate) in enumerate(self.entries):
            if start > minute:
                break
            current, following = rate, self.entries[(i + 1) % len(self.entries)][0]
        return current, following

    def describe_at(self, when: datetime) -> str:
        """'256 KB/s until 23:00'; the day is named when the change is not later today."""
        rate, following = self.at(when)
        what = format_rate(rate) if rate is not None else "unlimited"
        if len(self.entries) == 1:
            return what
        now = when.weekday() * 1440 + when.hour * 60 + when.minute
        day = "" if following // 1440 == when.weekday() and following > now else f"{_DAYS[following // 1440].title()} "
        return f"{what} until {day}{following % 1440 // 60:02d}:{following % 60:02d}"


def _rate(text: str, token: str, position: int) -> float | None:
    if text.lower() == "off":
        return None
    try:
        return float(parse_rate(text))
    except ValueError:
        raise BadSchedule(
            f"bad rate {text!r} in entry {position} ({token!r})",
            hint="A rate is a size per second like 512k, 1.5M or 2G (k/M/G are binary; a bare number is KiB), or off.",
        ) from None


def _days(token: str) -> list[int]:
    first, *last = token.lower().split("-")
    a = _DAYS.index(first[:3])
    b = _DAYS.index(last[0][:3]) if last else a
    return [(a + i) % 7 for i in range((b - a) % 7 + 1)]


def parse_timetable(text: str) -> Timetable:
    """Parse a schedule; a malformed one is refused with a message that points at the bad token."""
    tokens = text.split()
    if len(tokens) == 1 and "," not in tokens[0] and not _RANGE.match(tokens[0]):
        return Timetable(((0, _rate(tokens[0], tokens[0], 1)),))
    entries: dict[int, float | None] = {}
    days = list(range(7))
    for position, token in enumerate(tokens, 1):
        if _RANGE.match(token):
            days = _days(token)
            continue
        m = _ENTRY.match(token)
        if not m or int(m.group(2)) > 23 or int(m.group(3)) > 59:
            raise BadSchedule(
                f"bad entry {position}: {token!r}",
                hint='Write entries as HH:MM,RATE after optional days, e.g. "Mon-Fri 08:00,512k 18:00,256k 23:00,off".',
            )
        on_days = [_DAYS.index(m.group(1).lower()[:3])] if m.group(1) else days
        rate = _rate(m.group(4), token, position)
        for day in on_days:
            entries[day * 1440 + int(m.group(2)) * 60 + int(m.group(3))] = rate
    if not entries:
        raise BadSchedule(f"{text!r} has no times in it", hint="Add at least one HH:MM,RATE entry.")
    return Timetable(tuple(sorted(entries.items())))


Mode = Literal["unlimited", "fixed", "schedule", "automatic"]


@dataclass(frozen=True)
class BandwidthPolicy:
    """What the user chose; automatic ("Keep my internet usable") is the default."""

    mode: Mode = "automatic"
    #: bytes per second, for "fixed"
    rate: float | None = None
    #: timetable text, for "schedule"
    schedule: str | None = None

    def describe(self) -> str:
        if self.mode == "unlimited":
            return "Unlimited"
        if self.mode == "fixed":
            return f"Limit to {format_rate(self.rate or 0)}"
        if self.mode == "schedule":
            return f"Schedule: {self.schedule}"
        return "Keep my internet usable (automatic)"

    def timetable(self) -> Timetable:
        return parse_timetable(self.schedule or "")

    def to_json(self) -> dict:
        return {"mode": self.mode, "rate": self.rate, "schedule": self.schedule}

    @classmethod
    def from_json(cls, doc: dict) -> BandwidthPolicy:
        policy = cls(doc.get("mode", "automatic"), doc.get("rate"), doc.get("schedule"))
        if policy.mode not in ("unlimited", "fixed", "schedule", "automatic"):
            return cls()
        return policy


def parse_policy(text: str) -> BandwidthPolicy:
    """`off`/`unlimited`, `auto`/`automatic`, one rate (`512k`), or a schedule (refused with the bad token)."""
    word = text.strip().lower()
    if word in ("off", "unlimited", "none"):
        return BandwidthPolicy("unlimited")
    if word in ("auto", "automatic"):
        return BandwidthPolicy("automatic")
    table = parse_timetable(text)
    if len(table.entries) == 1 and table.entries[0][0] == 0 and len(text.split()) == 1 and "," not in text:
        rate = table.entries[0][1]
        return BandwidthPolicy("fixed", rate) if rate is not None else BandwidthPolicy("unlimited")
    return BandwidthPolicy("schedule", schedule=" ".join(text.split()))


#: the day groups a schedule editor offers, spelled as the timetable text spells them
SCHEDULE_DAYS = ("Every day", "Mon-Fri", "Sat-Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ScheduleRow:
    """One row of a schedule editor: from `hour:minute` on these days, at most `rate` bytes/s."""

    days: str
    hour: int
    minute: int
    #: bytes per second; None for unlimited
    rate: float | None


def schedule_rows(text: str) -> list[ScheduleRow]:
    """A schedule as the rows an editor shows (checked first: a malformed one raises BadSchedule)."""
    if not text.strip():
        return []
    table = parse_timetable(text)
    if "," not in text:  # one rate all week
        return [ScheduleRow("Every day", 0, 0, table.entries[0][1])]
    rows, days = [], "Every day"
    for token in text.split():
        if "," not in token:
            days = _day_group(token)
            continue
        when, rate = token.split(",", 1)
        hour, minute = (int(x) for x in when.split(":")[-2:])
        rows.append(ScheduleRow(days, hour, minute, _rate(rate, token, len(rows) + 1)))
    return rows


def _day_group(token: str) -> str:
    """A day range as the editor names it: "monday-friday" is "Mon-Fri", every day "Every day"."""
    days = _days(token)
    if len(days) == 7:
        return "Every day"
    first, last = _DAYS[days[0]].title(), _DAYS[days[-1]].title()
    return first if len(days) == 1 else f"{first}-{last}"


def schedule_text(rows: list[ScheduleRow]) -> str:
    """The timetable text for an editor's rows (`schedule_rows` reads it back)."""
    parts, current = [], "Every day"
    for row in rows:
        if row.days != current:
            parts.append(row.days if row.days != "Every day" else "Mon-Sun")
        current = row.days
        rate = "off" if row.rate is None else f"{max(1, round(row.rate / 1024))}k"
        parts.append(f"{row.hour:02d}:{row.minute:02d},{rate}")
    return " ".join(parts)
