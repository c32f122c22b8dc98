"""Seed drives of one destination: the first backup carried on a disk instead of the slow line.

`export` backs up onto a drive at disk speed and writes its manifest; `verify` reads the drive
against it; `load` is the provider's side (or the user's, at a faster line): copy the drive into
the destination. What happens when the drive has arrived is `BackupService.reconcile`. The
rules of the hand-over are in `engine.jobs.seed`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from engine.base.errors import BackbeatError
from engine.base.events import BackupSummary, EventSink, Progress
from engine.base.units import format_bytes, format_rate
from engine.jobs.backup import NEEDS as BACKUP
from engine.jobs.backup import RunOptions, run_backup, start_scan
from engine.jobs.copy import CopyReport
from engine.jobs.seed import (
    LOAD,
    SeedVerifyReport,
    check_space,
    load_drive,
    open_drive,
    prepare_drive,
    verify_drive,
    write_manifest,
)
from engine.jobs.session import state_path
from engine.local.state import State
from engine.repo.repository import Repository

if TYPE_CHECKING:
    from engine.service.door import BackupService

__all__ = ["SeedDrives", "seed_suggestion", "SEED_WORTH_IT"]

#: an upload that would take longer than this over the line is better carried on a drive (seconds)
SEED_WORTH_IT = 14 * 86400.0
#: ... judged once this much has been sent: by then the automatic limit has found the line's speed
_SETTLED = 16 << 20


def seed_suggestion(progress: Progress) -> str | None:
    """What to tell a user whose upload would take weeks over their line (None: no need): the
    story this product exists for, where the first upload of a home takes months."""
    if progress.phase != "uploading" or progress.job or progress.bytes_done < _SETTLED:
        return None
    if progress.eta_seconds is None or progress.eta_seconds < SEED_WORTH_IT:
        return None
    weeks = progress.eta_seconds / (7 * 86400)
    left = format_bytes(progress.bytes_total - progress.bytes_done)
    return (
        f"This backup would take about {weeks:.0f} weeks over your connection ({left} left at "
        f"{format_rate(progress.rate)}). A seed drive carries it in days: open Backbeat, then Seed Drive."
    )


class SeedDrives:
    def __init__(self, service: BackupService) -> None:
        self.service = service

    def export(self, drive_path: str, paths: list[str], excludes: list[str] = ()) -> BackupSummary:
        """Back up into a seed drive for this (cloud) destination, at disk speed."""
        service = self.service
        events = self._as_job("seed export")

        drive = open_drive(drive_path, for_export=True)
        prepare_drive(service.backend, drive)
        scanning = start_scan(paths, excludes, events)
        session = service.session_at(drive)
        try:
            check_space(drive, scanning.result().scan.spool.bytes)
            once = RunOptions(checkpoints=None)  # the drive is filled in one go, at disk speed
            summary = service.runner.run(
                replace(BACKUP, name="seed export"),
                lambda: run_backup(session, scanning, events, options=once),
                session=session,
            )
            doc = write_manifest(drive, session.repo.key, service.location, events)
            session.state.record_seed(service.location, drive.location, doc["created"], doc["objects"])
            return summary
        finally:
            session.close()

    def verify(self, drive_path: str) -> SeedVerifyReport:
        """Read the whole drive against its manifest; its authenticity too once unlocked."""
        drive = open_drive(drive_path)
        return verify_drive(drive, self.service.key_at(drive), self._as_job("seed verify"))

    def abandon(self) -> int:
        """The user declares the drive lost: from now on nothing is expected from it, and backups
        send what it held over the line. Returns the bytes of the seed's packs not at the destination."""
        service = self.service
        state = service.session.state
        seed = state.pending_seed(service.location)
        if seed is None:
            raise BackbeatError(f"no seed drive is on its way to {service.location}")
        there = service.backend.list_sizes("data/")
        state.clear_seed(service.location)
        return sum(
            size for name, (size, *_) in seed["objects"].items() if name.startswith("data/") and there.get(name) != size
        )

    def load(self, drive_path: str) -> CopyReport:
        """Copy the drive into this destination, at full speed (no passphrase needed): by the
        provider, or by the user on a faster connection than home's. Resumes where it stopped."""
        drive = open_drive(drive_path)
        state = State(state_path(Repository.read_config(drive)["id"]))
        try:
            cloud = self.service.backend
            job = lambda: load_drive(drive, cloud, state, self._as_job("seed load"))  # noqa: E731
            return self.service.runner.run(LOAD, job, backend=cloud)
        finally:
            state.close()

    def _as_job(self, job: str) -> EventSink:
        """The service's events, progress marked as this job's (not the cloud backup's)."""
        service = self.service

        def events(ev: object) -> None:
            service.events(replace(ev, job=job) if isinstance(ev, Progress) else ev)

        return events
