"""Stop: the user's "stop this job", asked from any thread and heeded at the job's safe points.

A job's threads call `check()` where stopping leaves nothing half done (between files, between
packs, while an upload waits for its turn on the line); it raises `Stopped`, and the job unwinds
as from any error: the repository stays consistent and the next run carries on. A fresh `Stop`
is made for every job, so a stop asked as one job ends never reaches the next.
"""

from __future__ import annotations

import threading

from engine.base.errors import Stopped

__all__ = ["Stop", "NEVER"]


class Stop:
    def __init__(self) -> None:
        self._asked = threading.Event()

    def ask(self) -> None:
        self._asked.set()

    @property
    def asked(self) -> bool:
        return self._asked.is_set()

    def check(self) -> None:
        """Raise `Stopped` once a stop has been asked."""
        if self._asked.is_set():
            raise Stopped()


#: for a job nobody can stop (nobody holds it to ask)
NEVER = Stop()
