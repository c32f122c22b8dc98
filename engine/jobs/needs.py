"""What a job needs around it, declared beside the job and applied by one runner.

A job never takes the repository lock, paces itself or records its history on its own: it
declares `NEEDS` and the service's runner (`engine.service.runner`) provides them, the same way
for every job. A job that declares a lock calls `require` first, so running it without one (a
new caller that forgot the runner) fails at once instead of racing a prune.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from engine.jobs.session import Session

__all__ = ["Needs", "JobWithoutLock", "require"]


@dataclass(frozen=True)
class Needs:
    #: the history's word for the job, and the operation its lock names
    name: str
    #: "shared": beside backups, never beside a prune; "exclusive": alone at the destination
    lock: Literal["none", "shared", "exclusive"] = "none"
    #: seconds to wait for another job's lock before saying the destination is busy
    lock_wait: float = 600.0
    #: it writes packs: a killed run's outbox is delivered first, and no other process of this
    #: computer may recover (or delete) its packs while it runs
    writes: bool = False
    #: uploads go through the pacer (for a network destination; a disk is never throttled)
    paced: bool = False
    #: kept in the history (the app's charts, the support bundle, `last_problem`)
    recorded: bool = False
    #: two such jobs of one repository on this computer run one after the other (backups)
    queued: bool = False
    #: the user may stop it (the app's Stop): the runner gives it a fresh `Stop` in `session.stop`
    stoppable: bool = False


class JobWithoutLock(RuntimeError):
    """A programming error: a job that declares a lock was called without the runner."""


def require(session: Session, needs: Needs) -> None:
    """Raise unless the session holds the lock `needs` declares (or no lock can be written there)."""
    if needs.lock == "none":
        return
    held = session.lock
    if held is None and session.lock_unwritable and needs.lock == "shared" and not needs.writes:
        return  # a reader of a read-only destination: nothing there can change by anyone's hand here
    if held is None or (needs.lock == "exclusive" and not held.exclusive):
        raise JobWithoutLock(f"{needs.name} runs only under the repository's {needs.lock} lock (engine.service.runner)")
