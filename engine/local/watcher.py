"""Watcher: the selected folders watched by watchdog (FSEvents on macOS, inotify on Linux), as a debounced change set.

Events become paths in a `ChangeSet`, which is due once nothing has changed for a quiet period
(2 s by default) or once the first change has waited the maximum (60 s), so that a file written
continuously still gets protected. Moves give both their old and new path; a new folder counts
as changed as a whole. Ignored: the user's exclusions, Backbeat's own app-data folder, and
temporary and cache files (patterns from the settings, `DEFAULT_WATCH_IGNORE`): saving them must not set
off a backup. When the operating system says events were lost (inotify's queue overflowed,
FSEvents asks for a rescan) or a folder cannot be watched (too many folders for the inotify
limit), the change set asks for a full rescan instead. The only importer of watchdog.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from collections.abc import Iterable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from engine.base.clock import SYSTEM_CLOCK, Clock

__all__ = ["ChangeSet", "Watcher"]


class ChangeSet:
    """Changed paths since the last backup, and when they are due."""

    def __init__(self, quiet: float = 2.0, max_wait: float = 60.0, clock: Clock = SYSTEM_CLOCK) -> None:
        self.quiet = quiet
        self.max_wait = max_wait
        self.clock = clock
        self._cond = threading.Condition()
        self._paths: set[str] = set()  # guarded by self._cond
        self._rescan = False  # guarded by self._cond
        self._first: float | None = None  # guarded by self._cond
        self._last = 0.0  # guarded by self._cond

    def add(self, path: str) -> None:
        with self._cond:
            now = self.clock.monotonic()
            self._paths.add(path)
            self._first = self._first if self._first is not None else now
            self._last = now
            self._cond.notify_all()

    def rescan(self, why: str) -> None:
        """Events were lost: the next backup must look at everything."""
        logging.getLogger("backbeat.watcher").warning("full rescan needed: %s", why)
        with self._cond:
            self._rescan = True
            now = self.clock.monotonic()
            self._first = self._first if self._first is not None else now
            self._last = now
            self._cond.notify_all()

    def due_in(self) -> float | None:
        """Seconds until the changes are due (0: now), None when there are none."""
        with self._cond:
            if self._first is None:
                return None
            now = self.clock.monotonic()
            return max(0.0, min(self._last + self.quiet, self._first + self.max_wait) - now)

    def wait(self, timeout: float) -> None:
        """Sleep until something changes or `timeout` passes."""
        with self._cond:
            self._cond.wait(timeout)

    def take(self) -> tuple[set[str], bool]:
        """(changed paths, whether a full rescan is needed), and start afresh."""
        with self._cond:
            out = (self._paths, self._rescan)
            self._paths, self._rescan, self._first = set(), False, None
            return out


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reading a file changes nothing
        if event.is_directory and event.event_type == "modified":
            return  # a folder "modified" because an entry in it changed: that entry's own event says which
        for path in (event.src_path, getattr(event, "dest_path", "")):
            if path:
                self.watcher.changed(os.fsdecode(path))


class _LostEvents(logging.Handler):
    """watchdog reports a lost-events condition only in its log (inotify's queue overflow)."""

    def __init__(self, changes: ChangeSet) -> None:
        super().__init__(logging.WARNING)
        self.changes = changes

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.changes.rescan("the operating system dropped file events")


class Watcher:
    def __init__(
        self,
        roots: Iterable[str],
        changes: ChangeSet,
        excludes: Iterable[str] = (),
        ignore: Iterable[str] = (),
        never: Iterable[str] = (),
    ) -> None:
        self.roots = [os.path.abspath(os.path.expanduser(r)) for r in roots]
        self.changes = changes
        self.excludes = list(excludes)
        self.ignore = list(ignore)
        self.never = [os.path.abspath(n) for n in never]
        self._observer = Observer()
        self._lost = _LostEvents(changes)
        #: folders that could not be watched (inotify's watch limit, or gone), with why
        self.unwatched: list[tuple[str, str]] = []

    def ignored(self, path: str) -> bool:
        if any(path == n or path.startswith(n + os.sep) for n in self.never):
            return True
        if any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(os.path.basename(path), p) for p in self.excludes):
            return True
        root = next((r for r in self.roots if path == r or path.startswith(r + os.sep)), None)
        parts = os.path.relpath(path, root).split(os.sep) if root else [os.path.basename(path)]
        return any(fnmatch.fnmatchcase(part, p) for part in parts for p in self.ignore)

    def changed(self, path: str) -> None:
        if not self.ignored(path):
            self.changes.add(path)

    def start(self) -> None:
        logging.getLogger("watchdog").addHandler(self._lost)
        handler = _Handler(self)
        self._observer.start()  # first: then each folder that cannot be watched fails on its own
        for root in self.roots:
            try:
                self._observer.schedule(handler, root, recursive=True)
            except OSError as e:  # inotify's watch limit, or a folder that went away
                self.unwatched.append((root, str(e.strerror or e)))
                self.changes.rescan(f"cannot watch {root} ({e.strerror or e})")

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join()
        logging.getLogger("watchdog").removeHandler(self._lost)
