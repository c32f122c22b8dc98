"""Renders engine events on a terminal: one live progress line, warnings as they happen."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO

from engine.base.clock import SYSTEM_CLOCK
from engine.base.events import Checkpoint, FileSkipped, LockWait, NetworkWait, Progress
from engine.base.units import format_bytes, format_duration, format_rate

__all__ = ["ProgressPrinter", "progress_line"]


def _width() -> int:
    return shutil.get_terminal_size((80, 20)).columns


def progress_line(ev: Progress, width: int) -> str:
    """The progress line in `width` columns: fields that do not fit are left out whole, the least
    useful first (files, then the rate, then the sizes, then the bar, then the time left), never
    cut mid-number. While uploads are held, why takes the place of the rate and the time left."""
    if not ev.bytes_total:
        return f"{ev.phase}…"[:width]
    frac = min(1.0, ev.bytes_done / ev.bytes_total)
    bar = "#" * int(frac * 20) + "-" * (20 - int(frac * 20))
    head = f"{ev.phase}: [{bar}] {frac * 100:3.0f}%"
    # (text, how useful: higher stays longer), in the order shown
    fields = [(ev.held, 5)] if ev.held else []
    if ev.eta_seconds is not None and not ev.held:
        fields.append((f"{format_duration(ev.eta_seconds)} left", 4))
    fields.append((f"{format_bytes(ev.bytes_done)} of {format_bytes(ev.bytes_total)}", 3))
    if ev.rate and not ev.held:
        fields.append((format_rate(ev.rate), 2))
    fields.append((f"{ev.files_done}/{ev.files_total} files", 1))
    short = f"{ev.phase}: {frac * 100:3.0f}%"
    for start in (head, short):  # the bar goes before the most useful field does
        shown = list(fields)
        while shown:
            line = "  ".join([start] + [text for text, _ in shown])
            if len(line) <= width:
                return line
            if start is head and len(shown) == 1:
                break
            shown.remove(min(shown, key=lambda f: f[1]))
    return (head if len(head) <= width else short)[:width]


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
        line = progress_line(ev, width - 1)
        self.stream.write("\r" + line.ljust(width - 1))
        self.stream.flush()
        self._drawn = True

    def silence(self) -> None:
        """Draw nothing more (the command is stopping): warnings still go out."""
        self.clear()
        self.live = False

    def clear(self) -> None:
        if self._drawn:
            width = _width()
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
            self._drawn = False
