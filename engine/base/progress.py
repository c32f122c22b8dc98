"""A meter for long jobs: counts work done across threads and turns it into rate and ETA.

Rate is measured over a sliding window of the last samples (about the last 10 seconds at the
jobs' reporting pace), so the ETA follows what the machine or the line does now, not the average
since the start.
"""

from __future__ import annotations

import threading
from collections import deque

from engine.base.clock import Clock
from engine.base.events import Progress
from engine.base.units import format_bytes, format_duration, format_rate

__all__ = ["Meter", "describe_upload"]


class Meter:
    def __init__(self, clock: Clock, files_total: int, bytes_total: int, files_done: int = 0) -> None:
        self.clock = clock
        self.files_total, self.bytes_total = files_total, bytes_total
        self.files_done = files_done  # guarded by self._lock
        self.bytes_done = 0  # guarded by self._lock
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, int]] = deque(maxlen=40)

    def add(self, nbytes: int, files: int = 0) -> None:
        with self._lock:
            self.bytes_done += nbytes
            self.files_done += files

    def event(self, phase: str, current: str = "") -> Progress:
        now = self.clock.monotonic()
        self._samples.append((now, self.bytes_done))
        t0, b0 = self._samples[0]
        rate = (self.bytes_done - b0) / (now - t0) if now - t0 > 0.5 else 0.0
        left = max(0, self.bytes_total - self.bytes_done)
        eta = left / rate if rate > 0 else None
        return Progress(phase, self.files_done, self.files_total, self.bytes_done, self.bytes_total, current, rate, eta)


def describe_upload(p: Progress) -> str:
    """'42% — 1.2 GB of 2.9 GB sent at 150 KB/s; about 3 h 10 min left', for status lines."""
    share = f"{100 * p.bytes_done / p.bytes_total:.0f}% — " if p.bytes_total else ""
    said = f"{share}{format_bytes(p.bytes_done)} of about {format_bytes(p.bytes_total)} sent"
    if p.rate:
        said += f" at {format_rate(p.rate)}"
    if p.eta_seconds is not None:
        said += f"; about {format_duration(p.eta_seconds)} left"
    return said
