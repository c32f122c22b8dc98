"""Time that moves only when a test moves it (or something sleeps): logic without waiting."""

import threading

from engine.base.clock import Clock


class ManualClock(Clock):
    def __init__(self, now: float = 1000.0, wall: float = 1_000_000.0) -> None:
        self.now = now
        self.wall_time = wall
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_time

    def wall_ns(self) -> int:
        return int(self.wall_time * 1e9)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
