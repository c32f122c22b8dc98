"""The door's questions: what the backups hold and how they stand, read-only.

Part of the door (engine.service.door.BackupService). None of them writes to a destination; a
front end asks them on a thread of its own, beside a job under way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from engine.backends.base import Backend
from engine.base.events import EventSink, FileSkipped
from engine.jobs import backup, restore, status, support
from engine.jobs.find import Version, find_versions
from engine.jobs.rollback import newest_missing
from engine.jobs.session import Session
from engine.jobs.status import DestinationStatus
from engine.repo.snapshot import Snapshot, find_snapshot, load_snapshots
from engine.repo.tree import TreeEntry

__all__ = ["Questions"]


class Questions:
    """Read-only answers; the door (engine.service.door.BackupService) provides these."""

    location: str
    backend: Backend
    session: Session
    events: EventSink

    def status(self) -> tuple[Snapshot | None, list[DestinationStatus]]:
        """Per destination this machine knows: what it holds, and % of the latest selection it has.
        The snapshot returned is the latest, or the checkpoint of a run interrupted since (engine.jobs.status)."""
        return status.overview(self.session, self.snapshots())

    def about(self) -> dict[str, str]:
        """What a support desk asks for first (the app adds its Qt version)."""
        return support.about(self.location)

    def selection_bytes(self, paths: list[str], excludes: list[str] = ()) -> int:
        """What a backup of these folders would read, excludes honoured (the same scan as a backup's)."""
        scanned = backup.start_scan(paths, excludes).result()  # a question: its skipped files are the backup's to say
        try:
            return scanned.scan.spool.bytes
        finally:
            scanned.scan.spool.close()

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot; a note when the newest this computer made there is not among them."""
        session = self.session
        if missing := newest_missing(session):
            self.events(FileSkipped(self.location, missing))
        return load_snapshots(self.backend, session.repo.key)

    def snapshot(self, ref: str) -> Snapshot:
        return find_snapshot(self.snapshots(), ref)

    def list_files(self, ref: str, path: str | None = None) -> Iterator[tuple[str, TreeEntry]]:
        """(path relative to the snapshot's folder, entry) for everything at or under `path`;
        PathNotInSnapshot, before anything is yielded, when `path` is not there."""
        snap = self.snapshot(ref)
        entries = restore.entries_under(self.session.reader, snap, path)
        first = next(entries, None)
        if first is None and path:
            raise restore.not_in(snap, path)
        if first is not None:
            yield os.fsdecode(first[0]), first[1]
        for rel, entry in entries:
            yield os.fsdecode(rel), entry

    def find(self, query: str, limit: int = 500) -> tuple[list[Version], bool]:
        """Every version of the files whose name matches `query`, across all backups (True: more
        than `limit` matched)."""
        return find_versions(self.session.reader, self.snapshots(), query, limit)

    def history(self, limit: int = 50) -> list[dict]:
        return list(self.session.state.runs(limit))

    def last_problem(self) -> str | None:
        """The error of the latest run, in plain words with what to do, unless a run succeeded since."""
        return self.session.state.last_problem()
