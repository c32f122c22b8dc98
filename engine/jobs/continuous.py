"""Continuous backup: a snapshot within seconds of a change, without storms and without missed changes.

The watcher (`engine.local.watcher`) collects changed paths; once they are due, a backup runs with a
partial scan: only the folders holding a change are listed, the rest of the tree is the previous
snapshot's, and the files cache still decides per file what is read. The result is an ordinary,
complete snapshot. So that a busy folder causes no storm, at most one snapshot is kept per
interval (5 minutes by default): a newer one within the interval replaces the last (it holds
everything the last one did, newer), so a saved file is protected in seconds and the repository
still gains at most twelve snapshots an hour.

The safety net is the full scan: at start, whenever the watcher reports lost events (an inotify
queue overflow, a folder it could not watch), and periodically (daily by default). Nothing is
read when nothing changes: the loop sleeps on the change set. While `held` (the user paused
backups) no run starts; the changes wait, and the first run after is as complete as ever.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.errors import BackbeatError, Stopped
from engine.base.events import BackupSummary, EventSink, FileSkipped
from engine.base.home import app_dir
from engine.base.memory import release_memory
from engine.config.settings import WatchSettings
from engine.jobs.backup import RunOptions, previous_trees, run_backup, start_scan
from engine.jobs.rollback import forget_seen
from engine.jobs.session import Session, reload_session
from engine.local.scanner import Partial
from engine.local.watcher import ChangeSet, Watcher
from engine.repo.repository import Repository
from engine.repo.snapshot import Snapshot, delete_snapshot, load_snapshot

__all__ = ["ContinuousBackup", "WatchRun"]

_IDLE_TICK = 1.0  # seconds between looks at `stop` and the clock when nothing changes
_RETRY_AFTER = 30.0
#: after the user stops a run, the next starts this much later (or at Back Up Now), looking at everything
_AFTER_STOP = 3600.0
_UNWATCHED_RESCAN = 900.0  # a folder the system cannot watch (too many folders for inotify) is scanned this often


@dataclass(frozen=True)
class WatchRun:
    summary: BackupSummary
    #: "start", "changes", "lost events" or "periodic"
    reason: str
    #: paths that set it off (empty for a full scan)
    changed: int
    #: the snapshot this one replaced (within the interval), if any
    replaced: str | None


class ContinuousBackup:
    def __init__(
        self,
        session: Session,
        paths: list[str],
        excludes: list[str],
        through: Callable[[Session, Callable[[], BackupSummary]], BackupSummary],
        settings: WatchSettings = WatchSettings(),
        events: EventSink = lambda ev: None,
        clock: Clock = SYSTEM_CLOCK,
        reload: Callable[[Repository], Session] = reload_session,
        options: RunOptions = RunOptions(),
        idle: Callable[[], None] = lambda: None,
        held: Callable[[], bool] = lambda: False,
        starting: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.session = session
        #: while true (the user paused backups), no run starts; changes wait, none is lost
        self.held = held
        #: told the reason as each run starts ("start", "changes", "lost events", "periodic")
        self.starting = starting
        #: runs one backup with what `engine.jobs.backup.NEEDS` declares (the service's runner)
        self.through = through
        #: called about once a second while nothing is due: work that waits for a quiet moment
        self.idle = idle
        self.options = options
        #: after a full run, once the old session is dropped: a fresh one (its index compact in memory)
        self.reload = reload
        self.paths = list(paths)
        self.excludes = list(excludes)
        self.settings = settings
        self.events = events
        self.clock = clock
        self.changes = ChangeSet(settings.quiet, settings.max_wait, clock)
        self.watcher = Watcher(paths, self.changes, excludes, settings.ignore, never=[str(app_dir())])
        self.last: Snapshot | None = None
        self._last_full = float("-inf")
        self._kept_since = float("-inf")  # when the snapshot now standing for this interval started it
        self._stopped_until = float("-inf")  # monotonic time before which no run starts (the user stopped one)

    def run(
        self,
        stop: threading.Event,
        on_run: Callable[[WatchRun], None] = lambda r: None,
        on_error: Callable[[BackbeatError], None] = lambda e: None,
    ) -> None:
        """Back up now (a full scan), then on every due change until `stop` is set. A run that fails
        (a destination that is full or unreachable) is reported and tried again later, in full."""
        self.watcher.start()  # before the first scan: a change made during it is not missed
        rescan_every = self.settings.rescan_every
        for root, why in self.watcher.unwatched:
            rescan_every = min(rescan_every, _UNWATCHED_RESCAN)
            reason = f"cannot watch it for changes ({why}); it is scanned every 15 minutes instead"
            self.events(FileSkipped(root, reason, warning=True))
        try:
            started = False
            while not stop.is_set():
                if self.held() or self.clock.monotonic() < self._stopped_until:
                    stop.wait(_IDLE_TICK)
                    continue
                if not started:
                    started = True
                    self._attempt(set(), "start", on_run, on_error, stop)
                    continue
                if self.clock.monotonic() - self._last_full >= rescan_every:
                    self.changes.take()
                    self._attempt(set(), "periodic", on_run, on_error, stop)
                    continue
                due = self.changes.due_in()
                if due is None or due > 0:
                    self.changes.wait(min(_IDLE_TICK, due if due is not None else _IDLE_TICK))
                    self._idle(on_error)
                    continue
                paths, lost = self.changes.take()
                self._attempt(paths, "lost events" if lost else "changes", on_run, on_error, stop)
        finally:
            self.watcher.stop()

    def _idle(self, on_error: Callable[[BackbeatError], None]) -> None:
        try:
            self.idle()
        except BackbeatError as e:
            on_error(e)

    def _attempt(self, changed: set[str], reason: str, on_run, on_error, stop: threading.Event) -> None:
        self.starting(reason)
        try:
            run = self._backup(changed, reason)
            release_memory()  # the run's buffers: the process lives on, idle
            on_run(run)
        except Stopped as e:  # the user's stop: no run for a while, then one that looks at everything
            self._stopped_until = self.clock.monotonic() + _AFTER_STOP
            again = datetime.fromtimestamp(self.clock.wall() + _AFTER_STOP)
            on_error(Stopped(hint=f"Protection goes on at {again:%H:%M}, or now with Back Up Now. {e.hint}"))
            self.changes.rescan("the last backup was stopped")
        except BackbeatError as e:
            on_error(e)
            self.changes.rescan(f"the last backup failed ({e})")  # whatever changed is looked at again
            stop.wait(_RETRY_AFTER)

    def back_up_now(self) -> None:
        """Look at everything now (the user asked), even within the hour after a stop."""
        self._stopped_until = float("-inf")
        self.changes.rescan("asked for by the user")

    def _backup(self, changed: set[str], reason: str) -> WatchRun:
        full = reason != "changes" or self.last is None
        partial = None if full else Partial([os.fsencode(p) for p in changed], previous_trees(self.session, self.last))
        started = self.clock.monotonic()
        scanning = start_scan(self.paths, self.excludes, self.events, partial)
        session = self.session
        summary = self.through(session, lambda: run_backup(session, scanning, self.events, options=self.options))
        if full:
            self._last_full = started
            repo = self.session.repo
            # dropped, not closed: another thread (the app asking for status) may still be using it;
            # its database connection closes once the last holder lets go. No name here keeps it
            # either: its index would live on beside the new one (290 MiB for the story's home)
            self.session = session = None
            self.session = self.reload(repo)
        repo = self.session.repo
        previous, self.last = self.last, load_snapshot(repo.backend, repo.key, summary.snapshot_id)
        replaced = None
        if previous is not None and started - self._kept_since < self.settings.interval:
            delete_snapshot(repo.backend, previous.id)  # the new one holds all it did, newer
            forget_seen(self.session, {previous.id})  # gone on purpose: no warning of a missing snapshot
            replaced = previous.id
        else:
            self._kept_since = started
        return WatchRun(summary, reason, len(changed), replaced)
