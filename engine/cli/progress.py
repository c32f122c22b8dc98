"""Renders engine events on a terminal: one live progress line, warnings as they happen."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from engine.clock import SYSTEM_CLOCK
from engine.events import Checkpoint, FileSkipped, LockWait, NetworkWait, Progress
from engine.units import format_bytes, format_duration, format_rate

__all__ = ["ProgressPrinter"]


def _width() -> int:
    return shutil.get_terminal_size((80, 20)).columns


class ProgressPrinter:
    """Draws at most 10 times a second, and only on a terminal; warnings always go to stderr."""

    def __init__(self, stream: TextIO = sys.stderr, live: bool | None = None, quiet: bool = False) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.quiet = quiet
        self._last = 0.0
        self._phase = ""
        self._drawn = False

    def __call__(self, ev: object) -> None:
        if isinstance(ev, FileSkipped):
            self.clear()
            if not self.quiet or ev.warning:
                label = "warning" if ev.warning else "note"
                print(f"{label}: {ev.path}: {ev.reason}", file=self.stream)
        elif isinstance(ev, Checkpoint):
            self.clear()
            if not self.quiet:
                print(f"checkpoint {ev.snapshot_id[:8]}: {ev.files} files restorable so far", file=self.stream)
        elif isinstance(ev, NetworkWait | LockWait):
            self.clear()
            if isinstance(ev, LockWait):
                message = f"waiting for the {ev.holder} to finish (looking again in {ev.seconds:.0f} s)"
            else:
                message = f"waiting for network (retrying in {ev.seconds:.0f} s): {ev.reason}"
            if self.live:
                self.stream.write("\r" + message[: _width() - 1])
                self.stream.flush()
                self._drawn = True
            else:
                print(message, file=self.stream)
        elif isinstance(ev, Progress) and self.live:
            now = SYSTEM_CLOCK.monotonic()
            if now - self._last >= 0.1 or ev.phase != self._phase:  # a new phase is always shown
                self._last, self._phase = now, ev.phase
                self.draw(ev)

    def draw(self, ev: Progress) -> None:
        width = _width()
        if ev.bytes_total:  # most useful first: a narrow terminal cuts the end
            frac = min(1.0, ev.bytes_done / ev.bytes_total)
            bar = "#" * int(frac * 20) + "-" * (20 - int(frac * 20))
            parts = [f"{ev.phase}: [{bar}] {frac * 100:3.0f}%"]
            if ev.eta_seconds is not None:
                parts.append(f"{format_duration(ev.eta_seconds)} left")
            parts.append(f"{format_bytes(ev.bytes_done)} of {format_bytes(ev.bytes_total)}")
            if ev.rate:
                parts.append(format_rate(ev.rate))
            parts.append(f"{ev.files_done}/{ev.files_total} files")
        else:
            parts = [f"{ev.phase}…"]
        line = "  ".join(parts)[: width - 1]
        self.stream.write("\r" + line.ljust(width - 1))
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        if self._drawn:
            width = _width()
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
            self._drawn = False
