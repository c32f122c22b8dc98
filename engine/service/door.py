"""BackupService: the engine's one public door, for the CLI and the desktop app alike.

A service is bound to one repository location (the embedded default when none is given). It
opens the repository lazily with a passphrase the caller supplies, runs jobs (backup, restore,
check) and answers questions (snapshots, folder listings, history). Progress and per-file
problems arrive through the `events` callback as frozen dataclasses from `engine.base.events`.
"""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path

from engine import PRODUCT, __version__
from engine.backends.base import Backend, list_packs
from engine.backends.location import open_location
from engine.backends.ratelimit import TokenBucket
from engine.backends.retry import Retrying
from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import BackbeatError, BadRestoreTarget, PathNotInSnapshot
from engine.base.events import (
    BackupSummary,
    Checkpoint,
    EventSink,
    FileSkipped,
    NetworkWait,
    Progress,
    RestoreSummary,
)
from engine.base.home import app_dir, computer_id, default_repository, log_dir
from engine.base.logs import log, redact
from engine.config.destination import plain_http_note
from engine.config.retention import RetentionPolicy
from engine.config.settings import CheckpointSettings, Settings, load_settings, save_settings, update_settings
from engine.jobs.backup import NEEDS as BACKUP
from engine.jobs.backup import RunOptions, run_backup, start_scan
from engine.jobs.check import NEEDS as CHECK
from engine.jobs.check import CheckReport, run_check
from engine.jobs.continuous import WatchRun
from engine.jobs.copy import NEEDS as COPY
from engine.jobs.copy import CopyReport, run_copy
from engine.jobs.forget import NEEDS as FORGET
from engine.jobs.forget import ForgetReport, run_forget
from engine.jobs.prune import NEEDS as PRUNE
from engine.jobs.prune import PruneReport, run_prune
from engine.jobs.reconcile import NEEDS as RECONCILE
from engine.jobs.reconcile import ReconcileReport, run_reconcile
from engine.jobs.repair import NEEDS as REPAIR
from engine.jobs.repair import RepairReport, run_repair
from engine.jobs.restore import NEEDS as RESTORE
from engine.jobs.restore import normalize_include, run_restore, walk_snapshot
from engine.jobs.rollback import newest_missing, snapshot_warnings
from engine.jobs.seed import (
    SeedVerifyReport,
    check_space,
    load_drive,
    open_drive,
    prepare_drive,
    verify_drive,
    write_manifest,
)
from engine.jobs.session import Session, forget_unlisted_packs, open_session, state_path
from engine.jobs.status import DestinationStatus, destination_status, status_basis
from engine.jobs.support import BundleReport, write_bundle
from engine.local.keychain import s3_credentials
from engine.local.state import State
from engine.meter.control import Pause, current_pause, read_activity
from engine.meter.control import pause as pause_uploads
from engine.meter.control import resume as resume_uploads
from engine.meter.pacing import BandwidthStatus, Pacer
from engine.repo.lock import LockInfo, remove_locks
from engine.repo.repository import Repository
from engine.repo.snapshot import Snapshot, find_snapshot, load_snapshots
from engine.repo.tree import TreeEntry
from engine.service.runner import Runner
from engine.service.schedule import Scheduler

__all__ = ["BackupService"]


class BackupService:
    def __init__(self, location: str | None = None, events: EventSink | None = None) -> None:
        given = location or load_settings().destination or str(default_repository())
        self._sink: EventSink = events or (lambda ev: None)
        #: one budget for every byte this process sends to a network destination
        self.bucket = TokenBucket(None)
        self.pacer = Pacer(self.bucket)
        self.runner = Runner(self.pacer, self.events)
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
        """Readable without the passphrase (the keychain entry is keyed by it)."""
        return Repository.read_config(self.backend)["id"]

    def init(self, passphrase: str, pack_size: int | None = None) -> str:
        redact(passphrase)
        repo = Repository.create(self.backend, passphrase, **({"pack_size": pack_size} if pack_size else {}))
        state = State(state_path(repo.id))
        state.set_config_seen("mac")  # made here, with its MAC: one that goes missing was removed
        state.close()
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

    def set_limit(self, bytes_per_second: float | None) -> None:
        """A limit for this service's runs only, over the settings' policy (None: the policy again)."""
        self.pacer.override = bytes_per_second

    # -- bandwidth -----------------------------------------------------------------------------
    @staticmethod
    def settings() -> Settings:
        return load_settings()

    @staticmethod
    def save_settings(settings: Settings) -> None:
        """Running jobs, in this process or another, pick the change up within a second."""
        save_settings(settings)

    @staticmethod
    def update_settings(**changes: object) -> Settings:
        """Change only the named settings; every other choice stays (engine.config.settings.update_settings)."""
        return update_settings(**changes)

    @staticmethod
    def pause(seconds: float | None = None) -> Pause:
        """Pause uploads of every job of this installation (None: until resume)."""
        return pause_uploads(seconds)

    @staticmethod
    def resume() -> bool:
        return resume_uploads()

    @staticmethod
    def paused() -> Pause | None:
        return current_pause()

    def upload_progress(self) -> Progress | None:
        """The upload under way (bytes sent of the forecast, rate, finish), here or in another process."""
        doc = self.pacer.upload if self.pacer.active else (read_activity() or {}).get("upload")
        return Progress(**doc) if doc else None

    def bandwidth(self) -> BandwidthStatus:
        """The limit in force and why; from the job running in another process when there is one."""
        live = read_activity()
        if live is not None and not self.pacer.active:
            return BandwidthStatus(**{k: live[k] for k in BandwidthStatus.__dataclass_fields__})
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
        scanning = start_scan(paths, excludes, self.events)
        session = self.session  # opening (Argon2id) overlaps the scan
        options = self.run_options()
        if checkpoint_every is not None:
            every = replace(options.checkpoints or CheckpointSettings(), every=checkpoint_every)
            options = replace(options, checkpoints=every if checkpoint_every > 0 else None)
        if order is not None:
            options = replace(options, priority=replace(options.priority, order=order))
        for warning in snapshot_warnings(session):
            self.events(FileSkipped(self.location, warning))
        return self.runner.run(
            BACKUP, lambda: run_backup(session, scanning, self.events, options=options), session=session
        )

    def restore(self, ref: str, target: str, includes: list[str] = (), overwrite: bool = False) -> RestoreSummary:
        if os.path.lexists(target) and not os.path.isdir(target):
            raise BadRestoreTarget(
                f"{target} is a file, not a folder",
                hint="Give --target a folder (it is created when missing), or move that file out of the way.",
            )
        snap = self.snapshot(ref)
        for inc in includes:
            if not any(True for _ in self._select(snap, inc)):
                raise _not_in(snap, inc)
        session = self.session
        forget_unlisted_packs(session, keep_unplaced=True)  # a blob stored again after its pack was lost: its new place

        def job() -> RestoreSummary:
            return run_restore(
                session, snap, target, list(includes), overwrite, self.events, mirrors=self._mirrors(session)
            )

        return self.runner.run(RESTORE, job, session=session)

    def check(self, read_data: bool = False) -> CheckReport:
        session = self.session
        return self.runner.run(CHECK, lambda: run_check(session, read_data, self.events), session=session)

    def repair(self) -> RepairReport:
        """`check --repair` (engine.jobs.repair): alone at the destination, as it deletes damaged packs."""
        session = self.session
        return self.runner.run(
            REPAIR, lambda: run_repair(session, self._mirrors(session), self.events), session=session
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
            FORGET, lambda: run_forget(session, policy, SYSTEM_CLOCK.wall_ns(), dry_run), session=session
        )

    def prune(self, dry_run: bool = False) -> PruneReport:
        """Remove data no snapshot needs (engine.jobs.prune); never beside a backup (an exclusive lock)."""
        session = self.session
        seed = session.state.pending_seed(self.location)
        if seed is not None:
            raise BackbeatError(
                f"a seed drive for {self.location} has not been loaded yet",
                hint="Clean-up waits until the provider has loaded the drive and `backbeat reconcile` has checked it.",
            )

        if missing := newest_missing(session):  # its data would look unused: never deleted on a server's word
            raise BackbeatError(missing, hint="Clean-up waits until this is explained, or a new backup has been made.")

        needs = replace(PRUNE, recorded=not dry_run)
        return self.runner.run(
            needs, lambda: run_prune(session, load_settings().prune, dry_run, self.events), session=session
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
            return self.runner.run(COPY, lambda: run_copy(self.backend, dst, state, self.events), backend=dst)
        finally:
            state.close()

    def status(self) -> tuple[Snapshot | None, list[DestinationStatus]]:
        """Per destination this machine knows: what it holds, and % of the latest selection it has.
        The snapshot returned is the latest, or the checkpoint of a run interrupted since (engine.jobs.status)."""
        session = self.session
        session.state.set_held(self.location, list_packs(self.backend))
        latest = status_basis(self.snapshots())
        locations = sorted(set(session.state.destinations()) | {self.location})
        return latest, [destination_status(session, latest, loc) for loc in locations]

    def scheduler(
        self,
        paths: list[str],
        excludes: list[str],
        on_run: Callable[[WatchRun], None] = lambda r: None,
        on_error: Callable[[BackbeatError], None] = lambda e: None,
    ) -> Scheduler:
        """Continuous protection of these folders (engine.service.schedule): `start` and `stop` it."""
        return Scheduler(self, paths, excludes, on_run, on_error)

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

    # -- seed drive ----------------------------------------------------------------------------
    def seed_export(self, drive_path: str, paths: list[str], excludes: list[str] = ()) -> BackupSummary:
        """Back up into a seed drive for this (cloud) destination, at disk speed; see engine.jobs.seed."""
        drive = open_drive(drive_path, for_export=True)
        prepare_drive(self.backend, drive)
        scanning = start_scan(paths, excludes, self.events)
        if self._passphrase is None:
            raise BackbeatError("the repository is locked", hint="Unlock it with its passphrase first.")
        session = open_session(drive, self._passphrase)
        try:
            selection = scanning.result().scan.spool.bytes
            check_space(drive, selection)
            once = RunOptions(checkpoints=None)  # the drive is filled in one go, at disk speed
            summary = self.runner.run(
                replace(BACKUP, name="seed export"),
                lambda: run_backup(session, scanning, self.events, options=once),
                session=session,
            )
            doc = write_manifest(drive, session.repo.key, self.location, self.events)
            session.state.record_seed(self.location, drive.location, doc["created"], doc["objects"])
            return summary
        finally:
            session.close()

    def seed_verify(self, drive_path: str) -> SeedVerifyReport:
        """Read the whole drive against its manifest; its authenticity too once unlocked."""
        drive = open_drive(drive_path)
        key = Repository.open(drive, self._passphrase).key if self._passphrase is not None else None
        return verify_drive(drive, key, self.events)

    def seed_load(self, drive_path: str) -> CopyReport:
        """The provider's side: copy the drive into this destination, at full speed (no passphrase)."""
        drive = open_drive(drive_path)
        state = State(state_path(Repository.read_config(drive)["id"]))
        try:
            return load_drive(drive, self.backend, state, self.events)
        finally:
            state.close()

    def reconcile(self, drive_path: str | None = None, full: bool = False) -> ReconcileReport:
        """Compare this destination with what it should hold, mark what it holds, repair what it lost."""
        drive = open_drive(drive_path) if drive_path else None
        session = self.session
        report = self.runner.run(RECONCILE, lambda: run_reconcile(session, drive, full, self.events), session=session)
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

        return write_bundle(Path(output), self.about(), where, lambda: self.history(100), check)

    # -- questions ---------------------------------------------------------------------------
    def about(self) -> dict[str, str]:
        """What a support desk asks for first (the app adds its Qt version)."""
        return {
            "Product": f"{PRODUCT} {__version__}",
            "Computer ID": computer_id(),
            "Python": platform.python_version(),
            "Operating system": platform.platform(),
            "Destination": self.location,
            "App data": str(app_dir()),
            "Logs": str(log_dir()),
        }

    def selection_bytes(self, paths: list[str], excludes: list[str] = ()) -> int:
        """What a backup of these folders would read, excludes honoured (the same scan as a backup's)."""
        scanned = start_scan(paths, excludes).result()  # a question: its skipped files are the backup's to say
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

    def _walk(self, snap: Snapshot, includes: list[bytes]) -> Iterator[tuple[bytes, TreeEntry]]:
        s = self.session
        return walk_snapshot(s.reader, snap.tree_id, includes)

    def _select(self, snap: Snapshot, path: str | None) -> Iterator[tuple[bytes, TreeEntry]]:
        """Entries at or under `path` (everything when None), without the folders leading to it."""
        inc = normalize_include(snap, path) if path else b""
        for rel, entry in self._walk(snap, [inc] if inc else []):
            if not inc or rel == inc or rel.startswith(inc + b"/"):
                yield rel, entry

    def list_files(self, ref: str, path: str | None = None) -> Iterator[tuple[str, TreeEntry]]:
        """(path relative to the snapshot's folder, entry) for everything at or under `path`;
        PathNotInSnapshot, before anything is yielded, when `path` is not there."""
        snap = self.snapshot(ref)
        entries = self._select(snap, path)
        first = next(entries, None)
        if first is None and path:
            raise _not_in(snap, path)
        if first is not None:
            yield os.fsdecode(first[0]), first[1]
        for rel, entry in entries:
            yield os.fsdecode(rel), entry

    def history(self, limit: int = 50) -> list[dict]:
        return list(self.session.state.runs(limit))

    def last_problem(self) -> str | None:
        """The error of the latest run, in plain words with what to do, unless a run succeeded since."""
        for run in self.history(20):
            if run["status"] == "failed":
                return run["error"]
            if run["status"] in ("ok", "warnings"):
                return None
        return None


def _not_in(snap: Snapshot, path: str) -> PathNotInSnapshot:
    return PathNotInSnapshot(
        f"{path} is not in snapshot {snap.short_id}", hint=f"List what it holds with `backbeat ls {snap.short_id}`."
    )
