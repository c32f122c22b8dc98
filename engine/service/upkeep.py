"""Keeping a backup sound and tidy: check and repair, reconcile with what a destination should
hold, retention (forget, then prune), stale locks, copies, and the support bundle.

Part of the door: `BackupService` is made of this role, its questions and its own opening and
protection. Each method runs one job through the service's runner, which applies what the job
declares (lock, pacing, history); nothing here takes a lock or meters by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from engine.backends.base import Backend
from engine.backends.location import open_location
from engine.base.clock import SYSTEM_CLOCK
from engine.base.events import EventSink
from engine.config.retention import RetentionPolicy
from engine.config.settings import load_settings
from engine.jobs import check, copy, forget, prune, reconcile, repair, support
from engine.jobs.check import CheckReport
from engine.jobs.copy import CopyReport
from engine.jobs.forget import ForgetReport
from engine.jobs.prune import PruneReport
from engine.jobs.reconcile import ReconcileReport
from engine.jobs.repair import RepairReport
from engine.jobs.seed import open_drive
from engine.jobs.session import Session, state_path
from engine.jobs.status import DestinationStatus
from engine.jobs.support import BundleReport
from engine.local.keychain import s3_credentials
from engine.local.state import State
from engine.repo.lock import LockInfo, remove_locks
from engine.repo.snapshot import Snapshot
from engine.service.runner import Runner

__all__ = ["Upkeep"]


class Upkeep:
    """The door's upkeep jobs; the door (engine.service.door.BackupService) provides these."""

    location: str
    backend: Backend
    runner: Runner
    session: Session
    events: EventSink
    _network_wait: Callable
    _mirrors: Callable[[Session], tuple[Backend, ...]]
    repository_id: Callable[[], str]
    status: Callable[[], tuple[Snapshot | None, list[DestinationStatus]]]
    about: Callable[[], dict[str, str]]
    history: Callable[..., list[dict]]

    def check(self, read_data: bool = False) -> CheckReport:
        session = self.session
        return self.runner.run(check.NEEDS, lambda: check.run_check(session, read_data, self.events), session=session)

    def repair(self) -> RepairReport:
        """`check --repair` (engine.jobs.repair): alone at the destination, as it deletes damaged packs."""
        session = self.session
        return self.runner.run(
            repair.NEEDS, lambda: repair.run_repair(session, self._mirrors(session), self.events), session=session
        )

    def forget(self, policy: RetentionPolicy | None = None, dry_run: bool = False) -> ForgetReport:
        """Apply the retention policy (the settings' when None): snapshots it drops are removed."""
        session = self.session
        policy = policy or load_settings().retention
        return self.runner.run(
            forget.NEEDS, lambda: forget.run_forget(session, policy, SYSTEM_CLOCK.wall_ns(), dry_run), session=session
        )

    def prune(self, dry_run: bool = False) -> PruneReport:
        """Remove data no snapshot needs (engine.jobs.prune); never beside a backup (an exclusive lock)."""
        session = self.session
        needs = replace(prune.NEEDS, recorded=not dry_run)
        return self.runner.run(
            needs, lambda: prune.run_prune(session, load_settings().prune, dry_run, self.events), session=session
        )

    def clean_up(self) -> tuple[ForgetReport, PruneReport]:
        """The scheduled job: forget by the policy, then prune."""
        forgot = self.forget()
        return forgot, self.prune()

    def remove_locks(self, everything: bool = False) -> list[LockInfo]:
        """Remove stale locks (their process is gone, or silent for 30 minutes); all with `everything`."""
        return remove_locks(self.backend, self.session.repo.key, everything=everything)

    def copy_to(self, target: str) -> CopyReport:
        """Bring `target` up to date with this destination (no passphrase needed)."""
        dst = open_location(target, s3_credentials(target), self._network_wait, self.bucket)
        state = State(state_path(self.repository_id()))
        try:
            return self.runner.run(
                copy.NEEDS, lambda: copy.run_copy(self.backend, dst, state, self.events), backend=dst
            )
        finally:
            state.close()

    def reconcile(self, drive_path: str | None = None, full: bool = False) -> ReconcileReport:
        """Compare this destination with what it should hold, mark what it holds, repair what it lost."""
        drive = open_drive(drive_path) if drive_path else None
        session = self.session
        report = self.runner.run(
            reconcile.NEEDS, lambda: reconcile.run_reconcile(session, drive, full, self.events), session=session
        )
        latest, dests = self.status()
        report.percent_backed_up = next(d.percent for d in dests if d.location == self.location)
        return report

    def support_bundle(self, output: str) -> BundleReport:
        """The .zip a support desk asks for (engine.jobs.support); works even when the repository will not open."""
        where = sorted({self.location, *(load_settings().destination or "",)} - {""})

        def check() -> str:
            report = self.check()
            lines = [f"{self.location}: {'no problems found' if report.ok else 'PROBLEMS FOUND'}"]
            return "\n".join(lines + [f"error: {e}" for e in report.errors] + [f"note: {n}" for n in report.notes])

        return support.write_bundle(Path(output), self.about(), where, lambda: self.history(100), check)
