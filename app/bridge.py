"""EngineBridge: the app's only contact with the engine, keeping every engine call off the GUI thread.

Protection runs by itself: once a backup is set up, the engine's scheduler backs up the chosen
folders at start, within seconds of each change, and cleans up when due; its runs arrive as
`backup` jobs (started, finished, failed) like the ones the user starts.

Widgets ask for jobs (back up now, restore, seed export…) and read state; the bridge runs one job
at a time on a worker thread through `engine.service.BackupService` and reports back with Qt
signals (delivered on the GUI thread), so the window never freezes. Pause and resume are instant
(a file the engine checks ten times a second). Errors arrive as `Problem` objects: what
happened and what to do, in plain words.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal

from engine.base.errors import BackbeatError, Problem
from engine.base.events import Checkpoint, FileSkipped, LockWait, NetworkWait, Progress
from engine.base.logs import log
from engine.config.settings import Settings, load_settings, save_settings
from engine.service import BackupService, Scheduler
from engine.service.away import last_backed_up
from engine.service.controls import pause, paused, resume
from engine.service.setup import connect

__all__ = ["EngineBridge", "Snapshot"]


@dataclass(frozen=True)
class Snapshot:
    id: str
    #: when it was made, in local time
    time: datetime
    paths: list[str]
    #: the folder the snapshot's paths are relative to: where "original location" restores
    base: str


class EngineBridge(QObject):
    progress = Signal(object)  # engine.base.events.Progress
    note = Signal(str)  # a file skipped, waiting for the network
    job_started = Signal(str)
    job_finished = Signal(str, object)  # kind, result
    job_failed = Signal(str, object)  # kind, engine.base.errors.Problem (what happened, what to do)
    status_changed = Signal(object)  # dict, see refresh_status
    answered = Signal(str, object)  # a read-only question's name and answer
    #: a destination typed in Settings, reached (or not): the Connection, or None; the Problem, or None
    destination_checked = Signal(object, object)
    #: worker threads post here; the bridge (living on the GUI thread) re-emits, so every public
    #: signal is emitted on the GUI thread and any receiver (a lambda too) runs there
    _post = Signal(str, tuple)

    def __init__(self, passphrase: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._passphrase = passphrase
        self._job_kind: str | None = None  # the job running, set and cleared on the GUI thread
        self._threads: list[threading.Thread] = []  # joined before the engine is closed
        self.scheduler: Scheduler | None = None
        self.service = self._open()
        self._closed = False
        self._post.connect(self._deliver)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.refresh_status)
        self._timer.start()

    def _open(self) -> BackupService:
        service = BackupService(events=self._event)
        service.unlock(self._passphrase, defer=True)
        return service

    # -- engine events arrive on worker threads: they are posted to the GUI thread ---------------
    def _deliver(self, name: str, args: tuple) -> None:
        if name in ("job_finished", "job_failed") and args[0] == self._job_kind:
            self._job_kind = None  # done as soon as the GUI hears of it: the next job may start
        if not self._closed:
            getattr(self, name).emit(*args)

    def _event(self, ev: object) -> None:
        if isinstance(ev, Progress):
            self._post.emit("progress", (ev,))
        elif isinstance(ev, FileSkipped) and ev.warning:
            self._post.emit("note", (f"{ev.path}: {ev.reason}",))
        elif isinstance(ev, NetworkWait):
            self._post.emit("note", (f"Waiting for the network (retrying in {ev.seconds:.0f} s)",))
        elif isinstance(ev, LockWait):
            self._post.emit("note", (f"Waiting for the {ev.holder} to finish",))
        elif isinstance(ev, Checkpoint):
            self._post.emit("note", (f"{ev.files} files are restorable so far (checkpoint {ev.snapshot_id[:8]})",))

    # -- jobs ----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._job_kind is not None or self.backing_up

    @property
    def backing_up(self) -> bool:
        """A backup of this computer is under way (asked for, or protection's)."""
        return self._job_kind == "backup" or (self.scheduler is not None and self.scheduler.backing_up)

    # -- protection: the scheduler runs on its own thread; what it says is posted here ------------
    def start_protection(self) -> bool:
        """Protect the chosen folders from now on; False when none are chosen yet."""
        settings = load_settings()
        if not settings.folders or self._closed:
            return False
        if self.scheduler is None or not self.scheduler.running:
            self.scheduler = self.service.scheduler(
                list(settings.folders),
                list(settings.excludes),
                on_run=lambda run: self._post.emit("job_finished", ("backup", run.summary)),
                on_error=lambda e: self._post.emit("job_failed", ("backup", Problem.of(e))),
                on_start=lambda reason: self._post.emit("job_started", ("backup",)),
            )
            self.scheduler.start()
        return True

    def stop_protection(self, timeout: float = 10.0) -> None:
        if self.scheduler is not None:
            self.scheduler.stop(timeout)

    def run_job(self, kind: str, work: Callable[[BackupService], object]) -> bool:
        """Start `work` on a worker thread; False when another job is running (call from the GUI thread)."""
        if self.busy:
            return False
        self._job_kind = kind
        self.job_started.emit(kind)
        self._start(threading.Thread(target=self._run, args=(kind, work), name=f"app-{kind}", daemon=True))
        return True

    def _start(self, thread: threading.Thread) -> None:
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _run(self, kind: str, work: Callable[[BackupService], object], done: str = "job_finished") -> None:
        try:
            result = work(self.service)
        except BackbeatError as e:
            log.error("%s failed: %s", kind, Problem.of(e))
            self._post.emit("job_failed", (kind, Problem.of(e)))
            return
        except Exception as e:  # noqa: BLE001 - shown to the user, never a crash of the app
            if self._closed:
                return  # the app is quitting: a question still under way met the closed service
            log.exception("%s failed", kind)
            self._post.emit("job_failed", (kind, Problem.of(e)))
            return
        self._post.emit(done, (kind, result))

    def ask(self, name: str, question: Callable[[BackupService], object]) -> None:
        """A read-only question (snapshots, a folder listing) on a thread of its own, beside any job."""

        threading.Thread(
            target=self._run, args=(name, question, "answered"), name=f"app-ask-{name}", daemon=True
        ).start()

    def backup_now(self) -> bool:
        """With protection running, it looks at everything now; else a backup job."""
        settings = load_settings()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.back_up_now()
            return True
        if not settings.folders:
            self.job_failed.emit("backup", Problem("No folders are chosen yet.", "Add them in Settings.", "usage"))
            return False
        return self.run_job("backup", lambda s: s.backup(list(settings.folders), list(settings.excludes)))

    def stop_job(self) -> bool:
        """Stop the backup, restore or seed export under way (its own or protection's); it ends
        within a second or two, keeping what it finished, and fails with a "stopped" problem."""
        return self.service.stop()

    def pause(self, seconds: float | None = None) -> None:
        """Every upload and every scheduled run holds (None: until resumed)."""
        pause(seconds)
        self.refresh_status()

    def resume(self) -> None:
        resume()
        self.refresh_status()

    def check_destination(self, location: str | None) -> None:
        """Reach `location` and open the backup there with this app's passphrase (or start one
        there) on a thread of its own; the answer comes as `destination_checked`."""
        passphrase = self._passphrase

        def work() -> None:
            try:
                self._post.emit("destination_checked", (connect(location, passphrase), None))
            except Exception as e:  # noqa: BLE001 - said on the Settings page
                log.warning("destination %s not taken: %s", location, Problem.of(e))
                self._post.emit("destination_checked", (None, Problem.of(e)))

        self._start(threading.Thread(target=work, name="app-check-destination", daemon=True))

    def save_settings(self, settings: Settings, reconnect: bool = False) -> None:
        """The destination may have changed (or, with `reconnect`, its keys): the service is
        opened again for the next job."""
        before = load_settings().destination
        save_settings(settings)
        if (settings.destination != before or reconnect) and not self.busy:
            self.stop_protection()  # idle: it ends within a second
            self.service.close()
            self.service = self._open()
        elif self.scheduler is not None:  # the folders may have changed: protect what is chosen now
            self.scheduler.stop(timeout=0)  # a run under way ends by itself; the next waits for it
            self.scheduler = None
        self.start_protection()
        self.refresh_status()

    # -- state for the pages ---------------------------------------------------------------------
    def last_backed_up(self) -> float | None:
        """When the newest backup to the destination ended, from this computer's records (quick,
        no network: the destination may be away)."""
        return last_backed_up(self.service.location)

    def refresh_status(self) -> None:
        bw = self.service.bandwidth()
        self.status_changed.emit({"bandwidth": bw, "busy": self.busy, "paused": paused() is not None})

    def ask_snapshots(self) -> None:
        self.ask(
            "snapshots",
            lambda s: [Snapshot(x.id, x.time, x.paths, x.base) for x in reversed(s.snapshots())],
        )

    def close(self) -> None:
        """Let running engine calls end, then close the engine. A backup still running after a few
        seconds is left to the process's exit: the repository is consistent at any moment, and the
        next run resumes it."""
        self._closed = True
        self._timer.stop()
        self.stop_protection(5)
        for t in self._threads:
            t.join(timeout=5)
        if not any(t.is_alive() for t in self._threads) and not (self.scheduler and self.scheduler.running):
            self.service.close()
