"""BackupService: the engine's one public door, for the CLI and the desktop app alike.

A service is bound to one repository location (the embedded default when none is given). It
opens the repository lazily with a passphrase the caller supplies, runs jobs (backup, restore,
check) and answers questions (snapshots, folder listings, history). Progress and per-file
problems arrive through the `events` callback as frozen dataclasses from `engine.base.events`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path

from engine.backends.base import Backend
from engine.backends.location import open_location
from engine.backends.ratelimit import TokenBucket
from engine.backends.retry import Retrying
from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import BackbeatError
from engine.base.events import (
    BackupSummary,
    Checkpoint,
    EventSink,
    FileSkipped,
    NetworkWait,
    Progress,
    RestoreSummary,
)
from engine.base.home import default_repository
from engine.base.logs import log, redact
from engine.config.destination import plain_http_note
from engine.config.retention import RetentionPolicy
from engine.config.settings import CheckpointSettings, load_settings
from engine.jobs import backup, check, copy, forget, prune, reconcile, repair, restore, status, support
from engine.jobs.backup import RunOptions
from engine.jobs.check import CheckReport
from engine.jobs.continuous import WatchRun
from engine.jobs.copy import CopyReport
from engine.jobs.find import Version, find_versions
from engine.jobs.forget import ForgetReport
from engine.jobs.prune import PruneReport
from engine.jobs.reconcile import ReconcileReport
from engine.jobs.repair import RepairReport
from engine.jobs.rollback import newest_missing
from engine.jobs.seed import (
    open_drive,
)
from engine.jobs.session import Session, open_session, state_path
from engine.jobs.status import DestinationStatus
from engine.jobs.support import BundleReport
from engine.local.destinations import remember_repository, remembered_repository
from engine.local.keychain import s3_credentials
from engine.local.state import State
from engine.meter.control import read_activity
from engine.meter.pacing import BandwidthStatus, Pacer
from engine.repo.keys import MasterKey
from engine.repo.lock import LockInfo, remove_locks
from engine.repo.repository import Repository
from engine.repo.snapshot import Snapshot, find_snapshot, load_snapshots
from engine.repo.tree import TreeEntry
from engine.service.runner import Runner
from engine.service.schedule import Scheduler
from engine.service.seeding import SeedDrives

__all__ = ["BackupService"]


class BackupService:
    def __init__(self, location: str | None = None, events: EventSink | None = None) -> None:
        given = location or load_settings().destination or str(default_repository())
        self._sink: EventSink = events or (lambda ev: None)
        #: one budget for every byte this process sends to a network destination
        self.bucket = TokenBucket(None)
        self.pacer = Pacer(self.bucket)
        self.runner = Runner(self.pacer, self.events)
        #: seed drives of this destination: export, verify, load (engine.service.seeding)
        self.seed = SeedDrives(self)
        credentials = s3_credentials(given)
        redact(credentials.secret_access_key if credentials else os.environ.get("AWS_SECRET_ACCESS_KEY"))
        self.backend = open_location(given, credentials, self._network_wait, self.bucket)
        self.location = self.backend.location  # one spelling per destination in the local state
        if note := plain_http_note(given):
            self._sink(FileSkipped(self.location, note, warning=False))
        self._session: Session | None = None
        self._passphrase: str | None = None
        self._trust_config = False
        self._opening = threading.Lock()

    def events(self, ev: object) -> None:
        """Every engine event goes to the caller; warnings and waits also to the log."""
        if isinstance(ev, FileSkipped) and ev.warning:
            log.warning("skipped %s: %s", ev.path, ev.reason)
        elif isinstance(ev, NetworkWait):
            log.warning("%s: %s; retrying in %.0f s", ev.destination, ev.reason, ev.seconds)
        elif isinstance(ev, Checkpoint):
            log.info("checkpoint %s: %d files restorable so far", ev.snapshot_id[:8], ev.files)
        elif isinstance(ev, Progress) and ev.phase == "uploading":
            self.pacer.upload = asdict(ev)
        self._sink(ev)

    # -- repository ------------------------------------------------------------------------
    def repository_id(self) -> str:
        """Readable without the passphrase (the keychain entry is keyed by it); when the destination
        cannot be reached, the id it held when this computer last reached it."""
        try:
            repo_id = Repository.read_config(self.backend)["id"]
        except BackbeatError:
            known = remembered_repository(self.location)
            if known is None:
                raise
            return known
        remember_repository(self.location, repo_id)
        return repo_id

    def init(self, passphrase: str, pack_size: int | None = None) -> str:
        redact(passphrase)
        repo = Repository.create(self.backend, passphrase, **({"pack_size": pack_size} if pack_size else {}))
        state = State(state_path(repo.id))
        state.set_config_seen("mac")  # made here, with its MAC: one that goes missing was removed
        state.close()
        remember_repository(self.location, repo.id)
        return repo.id

    def unlock(self, passphrase: str, *, defer: bool = False, trust_config: bool = False) -> None:
        """Open the repository now, or with `defer` on first use (a backup scans while the key is
        derived). `trust_config`: the user vouches for a `config` without its MAC (engine.jobs.session)."""
        redact(passphrase)
        self._passphrase = passphrase
        self._trust_config = trust_config
        if not defer:
            _ = self.session

    @property
    def session(self) -> Session:
        """Opened once, on first use, whichever thread asks first (the app asks from several)."""
        with self._opening:
            return self._open_session()

    def _open_session(self) -> Session:
        if self._session is None:
            if self._passphrase is None:
                raise BackbeatError("the repository is locked", hint="Unlock it with its passphrase first.")
            self._session = open_session(self.backend, self._passphrase, trust_config=self._trust_config)
            damaged = self._session.state.set_aside
            if damaged is not None:
                said = f"was damaged; set aside as {damaged.name} and rebuilt from {self.location}"
                self.events(
                    FileSkipped(str(self._session.state.path), f"{said} (files are read again, not re-sent)", False)
                )
            for notice in self._session.repo.notices:
                self.events(FileSkipped(self.location, notice))
            if isinstance(self.backend, Retrying):
                self.backend.patient = True  # the destination answered: from now on, wait out outages
        return self._session

    def session_at(self, backend: Backend) -> Session:
        """A session on a seed drive being filled for this destination, opened with this one's
        passphrase, with this destination's index (what it holds is not put on the drive again)."""
        if self._passphrase is None:
            raise BackbeatError("the repository is locked", hint="Unlock it with its passphrase first.")
        return open_session(backend, self._passphrase, beside=self.session.repo)

    def key_at(self, backend: Backend) -> MasterKey | None:
        """The key of another copy of this repository, when this one is unlocked (None otherwise)."""
        return Repository.open(backend, self._passphrase).key if self._passphrase is not None else None

    def set_limit(self, bytes_per_second: float | None) -> None:
        """A limit for this service's runs only, over the settings' policy (None: the policy again)."""
        self.pacer.override = bytes_per_second

    # -- bandwidth -----------------------------------------------------------------------------
    def upload_progress(self) -> Progress | None:
        """The upload under way (bytes sent of the forecast, rate, finish), here or in another process."""
        doc = self.pacer.upload if self.pacer.active else (read_activity() or {}).get("upload")
        return Progress(**doc) if doc else None

    def bandwidth(self) -> BandwidthStatus:
        """The limit in force and why; from the job running in another process when there is one."""
        live = read_activity()
        if live is not None and not self.pacer.active:
            return BandwidthStatus(**{k: live[k] for k in BandwidthStatus.__dataclass_fields__ if k in live})
        return self.pacer.status()

    def run_options(self) -> RunOptions:
        settings = load_settings()
        line = self.pacer if self.backend.is_network else None
        return RunOptions(settings.checkpoints, settings.priority, line)

    def _network_wait(self, seconds: float, err: BackbeatError) -> None:
        self.events(NetworkWait(self.location, str(err), seconds))

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- jobs --------------------------------------------------------------------------------
    def backup(
        self,
        paths: list[str],
        excludes: list[str] = (),
        *,
        checkpoint_every: float | None = None,
        order: str | None = None,
    ) -> BackupSummary:
        """`checkpoint_every` (seconds, 0 for none) and `order` override the settings for this run."""
        scanning = backup.start_scan(paths, excludes, self.events)
        session = self.session  # opening (Argon2id) overlaps the scan
        options = self.run_options()
        if checkpoint_every is not None:
            every = replace(options.checkpoints or CheckpointSettings(), every=checkpoint_every)
            options = replace(options, checkpoints=every if checkpoint_every > 0 else None)
        if order is not None:
            options = replace(options, priority=replace(options.priority, order=order))
        return self.runner.run(
            backup.NEEDS, lambda: backup.run_backup(session, scanning, self.events, options=options), session=session
        )

    def restore(
        self, ref: str, target: str, includes: list[str] = (), overwrite: bool = False, numeric_owner: bool = False
    ) -> RestoreSummary:
        """`numeric_owner`: a restore as root gives items their stored user and group numbers, not
        the local users and groups of the stored names."""
        snap = self.snapshot(ref)
        session = self.session
        restore.check_request(session, snap, target, includes)  # said before any wait for a lock

        def job() -> RestoreSummary:
            owners = restore.OWNERS_BY_ID if numeric_owner else restore.OWNERS_BY_NAME
            return restore.run_restore(
                session,
                snap,
                target,
                list(includes),
                overwrite,
                self.events,
                mirrors=self._mirrors(session),
                owners=owners,
            )

        return self.runner.run(restore.NEEDS, job, session=session)

    def stop(self) -> bool:
        """Stop the backup, restore or seed job under way (False when none is): it ends within a
        second or two, raising `Stopped`, and keeps what it finished."""
        return self.runner.stop()

    def check(self, read_data: bool = False) -> CheckReport:
        session = self.session
        return self.runner.run(check.NEEDS, lambda: check.run_check(session, read_data, self.events), session=session)

    def repair(self) -> RepairReport:
        """`check --repair` (engine.jobs.repair): alone at the destination, as it deletes damaged packs."""
        session = self.session
        return self.runner.run(
            repair.NEEDS, lambda: repair.run_repair(session, self._mirrors(session), self.events), session=session
        )

    def _mirrors(self, session: Session) -> tuple[Backend, ...]:
        """The other destinations this computer has written this repository to (copies, seed drives)."""
        others = [loc for loc in session.state.destinations() if loc != session.repo.backend.location]
        return tuple(open_location(loc, s3_credentials(loc), self._network_wait, self.bucket) for loc in others)

    # -- retention ---------------------------------------------------------------------------
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

    def status(self) -> tuple[Snapshot | None, list[DestinationStatus]]:
        """Per destination this machine knows: what it holds, and % of the latest selection it has.
        The snapshot returned is the latest, or the checkpoint of a run interrupted since (engine.jobs.status)."""
        return status.overview(self.session, self.snapshots())

    def scheduler(
        self,
        paths: list[str],
        excludes: list[str],
        on_run: Callable[[WatchRun], None] = lambda r: None,
        on_error: Callable[[BackbeatError], None] = lambda e: None,
        on_start: Callable[[str], None] = lambda reason: None,
    ) -> Scheduler:
        """Continuous protection of these folders (engine.service.schedule): `start` and `stop` it."""
        return Scheduler(self, paths, excludes, on_run, on_error, on_start=on_start)

    def watch(
        self,
        paths: list[str],
        excludes: list[str],
        stop: threading.Event,
        on_run: Callable[[WatchRun], None] = lambda r: None,
        on_error: Callable[[BackbeatError], None] = lambda e: None,
    ) -> None:
        """Continuous protection until `stop` is set, in this thread (the command line)."""
        self.scheduler(paths, excludes, on_run, on_error).run(stop)

    def replace_session(self, make: Callable[[], Session]) -> Session:
        """Swap the session for a fresh one (after a watcher's full run: its index compact again);
        a thread asking for the session meanwhile waits. The old one is dropped, not closed:
        another thread (the app asking for status) may still hold it."""
        with self._opening:
            self._session = None
            self._session = make()
            return self._session

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

    # -- questions ---------------------------------------------------------------------------
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
