"""Sizes, rates, durations and dates as people read them: one copy for the CLI, the app and schedules."""

from __future__ import annotations

import re
from datetime import datetime

__all__ = [
    "format_bytes",
    "format_rate",
    "format_duration",
    "format_ago",
    "format_when",
    "parse_size",
    "parse_rate",
    "parse_duration",
]

_UNITS = ["B", "KB", "MB", "GB", "TB", "PB"]


def format_bytes(n: float) -> str:
    """Binary multiples with the short labels home users know ("4.2 GB")."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_rate(bytes_per_second: float) -> str:
    return f"{format_bytes(bytes_per_second)}/s"


def format_duration(seconds: float) -> str:
    """Two units at most ("3 h 10 min", "42 s"): an ETA is an estimate, not a stopwatch."""
    s = max(0, int(round(seconds)))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def format_ago(seconds: float) -> str:
    """How long ago, as a person says it: "just now", "2 minutes ago", "3 hours ago", "5 days ago"."""
    s = max(0, int(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if s >= size:
            n = s // size
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "just now"


def format_when(when: datetime, now: datetime | None = None) -> str:
    """A moment as a person says it: "today 14:02", "yesterday 09:10", "Monday 14:02" within the
    week, "3 March 14:02" this year, "3 March 2024" before. Both in local time."""
    now = now or datetime.now(when.tzinfo)
    days = (now.date() - when.date()).days
    if days == 0:
        return f"today {when:%H:%M}"
    if days == 1:
        return f"yesterday {when:%H:%M}"
    if 1 < days < 7:
        return f"{when:%A %H:%M}"
    if when.year == now.year:
        return f"{when.day} {when:%B %H:%M}"
    return f"{when.day} {when:%B %Y}"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_FACTOR = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """Parse "512k", "1.5M", "2GiB", "100" (bytes; k/M/G/T are binary multiples, like rclone)."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (try 512k, 1.5M or 2G)")
    return int(float(m.group(1)) * _FACTOR[m.group(2).lower()])


def parse_rate(text: str) -> int:
    """Bytes per second from "512k", "1.5M", "512B" or a bare "512", which is KiB/s as in rclone's
    --bwlimit (nobody means 512 bytes a second)."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a rate: {text!r} (try 512k, 1.5M or 2G a second; a bare number is KiB/s)")
    unit = m.group(2).lower() or ("" if m.group(3) else "k")
    return int(float(m.group(1)) * _FACTOR[unit])


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Parse "90s", "30m", "2h", "1d" (a bare number is minutes, as in "pause for 30")."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (try 30m, 2h or 1d)")
    return float(m.group(1)) * _SECONDS[(m.group(2) or "m").lower()]
