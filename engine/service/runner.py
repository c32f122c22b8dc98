"""The one runner: it gives every job what its `Needs` declare, in one order, the same way.

Order, outermost first: the queue (backups of one repository on this computer run one after the
other), for writers the system kept from idle sleep (on a Mac on AC power: `engine.platform`),
pacing (for a network destination), delivery of a killed run's outbox (writers: inside
pacing and pause, never by a reader), the run lock that keeps other processes from recovering
this job's packs, the repository lock (waited for as long as the job says, refreshed by the
lock's own timer), the history. A failure is logged in plain words and kept in the history, then
raised to the front end as the error object it is.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import TypeVar

from engine.backends.base import Backend
from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import BackendError, Stopped
from engine.base.events import EventSink, LockWait
from engine.base.logs import log
from engine.base.stop import NEVER, Stop
from engine.jobs.needs import Needs
from engine.jobs.session import Session, recover
from engine.local.state import State
from engine.meter.nearby import on_local_network
from engine.meter.pacing import Pacer
from engine.platform import current as platform

__all__ = ["Runner"]

T = TypeVar("T")


class Runner:
    def __init__(self, pacer: Pacer | None = None, events: EventSink = lambda ev: None) -> None:
        self.pacer = pacer
        self.events = events
        #: the stoppable job under way, for `stop` (front ends run one at a time)
        self._stop: Stop | None = None

    def stop(self) -> bool:
        """Ask the stoppable job under way to stop (False when there is none): it stops at its next
        safe point, within a second, and raises `Stopped`."""
        asked = self._stop
        if asked is None:
            return False
        asked.ask()
        return True

    def run(
        self,
        needs: Needs,
        job: Callable[[], T],
        *,
        session: Session | None = None,
        backend: Backend | None = None,
    ) -> T:
        """Run `job` with what `needs` declares. `backend`: where it sends (the session's when None);
        a recorded job's history goes to the session's state."""
        backend = backend or (session.repo.backend if session is not None else None)
        with self.applied(needs, session, backend):
            if not needs.recorded:
                return job()
            return self._recorded(needs.name, job, session.state, backend)

    @contextlib.contextmanager
    def applied(self, needs: Needs, session: Session | None, backend: Backend | None) -> Iterator[None]:
        location = backend.location if backend is not None else ""

        def waiting(who: str, seconds: float) -> None:
            self.events(LockWait(location, who, seconds))

        with contextlib.ExitStack() as held:
            if needs.stoppable:
                held.enter_context(self._stoppable(session))
            if needs.queued and session is not None:
                held.enter_context(session.one_backup(waiting))
            if needs.writes:
                held.enter_context(platform().awake(f"Backbeat: {needs.name}"))
            if needs.paced and backend is not None:
                held.enter_context(self.paced(backend))
            if session is not None and needs.writes:
                recover(session)  # before the run lock: recovery needs to know no run of ours is alive
                held.enter_context(session.running())
            if session is not None and needs.lock != "none":
                self._lock(held, session, needs, waiting)
            yield

    @contextlib.contextmanager
    def _stoppable(self, session: Session | None) -> Iterator[None]:
        """A fresh `Stop` for the job, heeded by its threads (`session.stop`) and by every upload
        waiting for its turn on the line (the pacer's bucket)."""
        stop, before = Stop(), self._stop
        bucket = self.pacer.bucket if self.pacer is not None else None
        self._stop = stop
        if session is not None:
            session.stop = stop
        if bucket is not None:
            bucket.stop = stop
        try:
            yield
        finally:
            self._stop = before
            if session is not None:
                session.stop = NEVER
            if bucket is not None:
                bucket.stop = before or NEVER

    def paced(self, backend: Backend) -> contextlib.AbstractContextManager:
        """Uploads to a network destination run under the pacer (once: a job inside a watch joins
        the watch's pacing); a disk is never throttled."""
        if self.pacer is None or self.pacer.active or not backend.is_network:
            return contextlib.nullcontext()
        return self.pacer.running(nearby=on_local_network(backend.location))

    @staticmethod
    def _lock(held: contextlib.ExitStack, session: Session, needs: Needs, waiting) -> None:
        exclusive = needs.lock == "exclusive"
        try:
            held.enter_context(session.locked(needs.name, exclusive=exclusive, wait=needs.lock_wait, on_wait=waiting))
        except BackendError:
            if exclusive or needs.writes:
                raise
            session.lock_unwritable = True  # a reader where no lock can be written: nothing changes there
            held.callback(setattr, session, "lock_unwritable", False)

    @staticmethod
    def _recorded(kind: str, job: Callable[[], T], state: State, backend: Backend | None) -> T:
        """Keep the run in the history (for the app's charts and support bundles)."""
        location = backend.location if backend is not None else ""
        run_id = state.start_run(kind, SYSTEM_CLOCK.wall_ns())
        try:
            result = job()
        except Stopped:  # the user's stop: kept in the history, never shown as a problem
            state.finish_run(run_id, SYSTEM_CLOCK.wall_ns(), "stopped", None, {}, None)
            log.info("%s at %s stopped by the user", kind, location)
            raise
        except BaseException as e:
            hint = getattr(e, "hint", None)
            said = (str(e) or type(e).__name__) + (f" — {hint}" if hint else "")
            state.finish_run(run_id, SYSTEM_CLOCK.wall_ns(), "failed", None, {}, said)
            log.error("%s at %s failed: %s", kind, location, said)
            raise
        doc = result.to_json()
        status = "warnings" if doc.get("warnings") or doc.get("failed") or doc.get("kept") else "ok"
        brief = {k: v for k, v in doc.items() if k not in ("skipped", "failed", "kept")}
        log.info("%s at %s: %s %s", kind, location, status, json.dumps(brief, sort_keys=True))
        state.finish_run(run_id, SYSTEM_CLOCK.wall_ns(), status, doc.get("snapshot_id"), doc, None)
        return result
