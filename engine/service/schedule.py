"""The scheduler: continuous protection of one backup set, shared by `backbeat watch` and the app.

It runs, on a thread of its own, everything that protects the user without being asked:
continuous backup (engine.jobs.continuous: a watch, a quiet period, periodic and lost-event
rescans), the clean-up (forget by the retention policy, then prune) once it is due and, for a
network destination, once the computer's network has been quiet for a minute, and catch-up
after sleep: when the wall clock has run ahead of the monotonic one (the computer slept; the
monotonic clock stops meanwhile), everything is scanned again and a clean-up that fell due runs.

`start` and `stop` never block the caller for long (a GUI thread calls them); `run` blocks (the
command line). Every backup and clean-up goes through the service, so through the runner: each
gets the lock, pacing and history its job declares. What happens is said through `on_run` and
`on_error`, and through the service's events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.errors import BackbeatError
from engine.base.logs import log
from engine.base.units import format_bytes
from engine.config.settings import load_settings
from engine.jobs.backup import NEEDS as BACKUP
from engine.jobs.continuous import ContinuousBackup, WatchRun
from engine.jobs.session import Session, reload_session
from engine.local.state import State
from engine.meter.control import current_pause
from engine.meter.netidle import LineIdle
from engine.repo.repository import Repository

if TYPE_CHECKING:
    from engine.service.door import BackupService

__all__ = ["Scheduler", "clean_up_due"]

#: a jump of the wall clock past the monotonic one larger than this is a sleep (seconds)
_SLEPT = 60.0
#: a destination that could not be opened is tried again after (seconds)
_OPEN_RETRY = 30.0
#: a clean-up that could not run (another computer's backup, a seed on its way) is tried again after
_CLEANUP_RETRY = 3600.0


def clean_up_due(state: State, every_days: float, clock: Clock = SYSTEM_CLOCK) -> bool:
    """Whether the automatic clean-up is due (every `every_days`, counted from the first look)."""
    last = state.last_cleanup()
    now = clock.wall()
    if last is None or now < last:  # the first look, or the clock was set back: count from now
        state.set_last_cleanup(now)
        return False
    return every_days > 0 and now - last >= every_days * 86400


class Scheduler:
    def __init__(
        self,
        service: BackupService,
        paths: list[str],
        excludes: list[str],
        on_run: Callable[[WatchRun], None] = lambda r: None,
        on_error: Callable[[BackbeatError], None] = lambda e: None,
        clock: Clock = SYSTEM_CLOCK,
        on_start: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.service = service
        self.paths, self.excludes = list(paths), list(excludes)
        self.on_run, self.on_error, self.on_start = on_run, on_error, on_start
        #: a run is under way (set as it starts, cleared when it ends or fails)
        self.backing_up = False
        self.clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()  # the user asked for a backup while the destination was away
        self._thread: threading.Thread | None = None
        self._line = LineIdle()
        self._cleanup_retry = float("-inf")  # monotonic time before which the clean-up is not tried again
        self._offset = clock.wall() - clock.monotonic()  # grows by the time the computer slept
        self._continuous: ContinuousBackup | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Protect from now on, on a thread of its own (a no-op when already running)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name="backbeat-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> bool:
        """Stop protecting: no run starts after this; one under way finishes first (the repository
        is consistent at every moment, so a process that exits meanwhile loses nothing, and the
        next start resumes). True once the thread has ended within `timeout`."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def back_up_now(self) -> None:
        """Look at everything now (the user asked), not at the next periodic rescan."""
        if self._continuous is not None:
            self._continuous.back_up_now()
        else:
            self._wake.set()  # not protecting yet (the destination was away): try to open it now

    def run(self, stop: threading.Event) -> None:
        """Protect until `stop` is set (blocking). A destination that cannot be opened yet (a laptop
        at login before its Wi-Fi, a drive not plugged in) is said through `on_error` and tried
        again every half minute: protection starts as soon as it can."""
        while not stop.is_set():
            self._wake.clear()  # before the try: a click while its failure is being said is not lost
            try:
                self.service.session  # noqa: B018 - opened here, not kept: a reload replaces it
            except BackbeatError as e:
                self.on_error(e)
                deadline = self.clock.monotonic() + _OPEN_RETRY
                while not (stop.wait(0.5) or self._wake.is_set()) and self.clock.monotonic() < deadline:
                    pass
                continue
            self._protect(stop)
            return

    def _protect(self, stop: threading.Event) -> None:
        """The watch, on the service's session of now; no name here holds it while the watch runs
        (each full run replaces it with a fresh one, and the old one must go, with its index)."""
        service = self.service
        self._continuous = ContinuousBackup(
            service.session,
            self.paths,
            self.excludes,
            self._backup,
            load_settings().watch,
            service.events,
            reload=self._reload,
            options=service.run_options(),
            idle=self._idle,
            held=lambda: current_pause() is not None,
            starting=self._starting,
        )
        with service.runner.paced(service.backend):  # one pacer for the whole watch: its probe keeps its baseline
            self._continuous.run(stop, self._ran, self._failed)

    def _starting(self, reason: str) -> None:
        self.backing_up = True
        self.on_start(reason)

    def _ran(self, run: WatchRun) -> None:
        self.backing_up = False
        self.on_run(run)

    def _failed(self, error: BackbeatError) -> None:
        self.backing_up = False
        self.on_error(error)

    def _backup(self, session: Session, job: Callable[[], object]):
        return self.service.runner.run(BACKUP, job, session=session)

    def _reload(self, repo: Repository) -> Session:
        return self.service.replace_session(lambda: reload_session(repo))

    def _idle(self) -> None:
        """About once a second while nothing is due (and not while paused: nothing runs then)."""
        self._line.sample()
        self.service.session.index.release_pages()  # what the last run and status looked up
        self._catch_up_after_sleep()
        if current_pause() is None:
            self._clean_up_when_quiet()

    def _catch_up_after_sleep(self) -> None:
        offset = self.clock.wall() - self.clock.monotonic()
        slept, self._offset = offset - self._offset, offset
        if slept > _SLEPT and self._continuous is not None:
            log.info("the computer slept for %.0f s: looking at everything again", slept)
            self._continuous.changes.rescan(f"the computer slept for {slept:.0f} s")

    def _clean_up_when_quiet(self) -> None:
        """The scheduled clean-up, once it is due and, for a network destination, once the
        computer's network has been quiet for a minute."""
        service = self.service
        if self.clock.monotonic() < self._cleanup_retry:
            return
        state = service.session.state
        if not clean_up_due(state, load_settings().prune.every_days, self.clock):
            return
        if service.backend.is_network and not self._line.idle():
            return
        try:
            forgot, pruned = service.clean_up()
        except BackbeatError as e:  # another computer's backup, a seed on its way: try again in an hour
            self._cleanup_retry = self.clock.monotonic() + _CLEANUP_RETRY
            log.warning("clean-up at %s postponed: %s", service.location, e)
            return
        service.session.state.set_last_cleanup(self.clock.wall())
        log.info(
            "clean-up at %s: %d snapshot(s) removed, %s freed",
            service.location,
            len(forgot.dropped),
            format_bytes(pruned.bytes_freed),
        )
