"""The engine's only window on time: timing code takes a clock, tests can pass their own."""

from __future__ import annotations

import time

__all__ = ["Clock", "SYSTEM_CLOCK"]


class Clock:
    """Monotonic time for intervals, wall time for records, and sleeping."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def wall_ns(self) -> int:
        return time.time_ns()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = Clock()
