"""Ctrl-C ends any command within 2 seconds, saying "stopping…" at once.

The first Ctrl-C raises KeyboardInterrupt in the main thread, so the command unwinds as usual
(locks released, what is finished kept), and sets `stop` for loops that wait on it (a watch). A
throttled upload can hold that unwinding for as long as its request takes: when the command has
not ended after the grace period, the process ends there. That is safe: the repository stays
consistent whatever moment a process dies at (kill -9 is tested at random moments of every job),
and the pack that was on its way is sent again by the next run. A second Ctrl-C ends it at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from engine.cli import EXIT_INTERRUPTED, INTERRUPTED

__all__ = ["EXIT_INTERRUPTED", "Interrupt"]

#: how long the command may take to unwind after Ctrl-C before the process ends anyway (seconds)
GRACE = 1.5


class Interrupt:
    def __init__(self, quiet_progress: Callable[[], None] = lambda: None, stream: TextIO = sys.stderr) -> None:
        self.stop = threading.Event()
        self._quiet_progress = quiet_progress
        self._stream = stream
        self._said = threading.Lock()

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: object) -> None:
        if self.stop.is_set():
            self.end_now()
        self.stop.set()
        self._quiet_progress()  # the progress line must not come back over what follows
        print("\nstopping…", file=self._stream, flush=True)
        timer = threading.Timer(GRACE, self.end_now)
        timer.daemon = True
        timer.start()
        raise KeyboardInterrupt

    def said(self) -> None:
        """What the command says once it has unwound (once, whoever gets there first)."""
        if self._said.acquire(blocking=False):
            print(INTERRUPTED, file=self._stream, flush=True)

    def end_now(self) -> None:
        self.said()
        os._exit(EXIT_INTERRUPTED)
