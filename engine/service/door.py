"""BackupService: the engine's one public door, for the CLI and the desktop app alike.

A service is bound to one repository location (the embedded default when none is given). It
opens the repository lazily with a passphrase the caller supplies, runs jobs through its runner
(backup and restore here; check, repair, reconcile, retention in `upkeep`), hands out the
scheduler that protects continuously, and answers questions (`questions`, `line`). Progress and
per-file problems arrive through the `events` callback as frozen dataclasses from `engine.base.events`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import asdict, replace

from engine.backends.base import Backend
from engine.backends.location import open_location
from engine.backends.ratelimit import TokenBucket
from engine.backends.retry import Retrying
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
from engine.config.settings import CheckpointSettings, load_settings
from engine.jobs import backup, restore
from engine.jobs.continuous import WatchRun
from engine.jobs.session import Session, open_session, state_path
from engine.local.destinations import remember_repository, remembered_repository
from engine.local.keychain import s3_credentials
from engine.local.state import State
from engine.meter.pacing import Pacer
from engine.repo.keys import MasterKey
from engine.repo.repository import Repository
from engine.service.line import Line
from engine.service.questions import Questions
from engine.service.runner import Runner
from engine.service.schedule import Scheduler
from engine.service.seeding import SeedDrives
from engine.service.upkeep import Upkeep

__all__ = ["BackupService"]


class BackupService(Upkeep, Questions, Line):
    """Opening a repository, and the jobs that protect and bring back files. Its other roles:
    upkeep jobs (engine.service.upkeep), read-only questions (engine.service.questions) and the
    household line (engine.service.line)."""

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
        download_from_icloud: bool | None = None,
    ) -> BackupSummary:
        """`checkpoint_every` (seconds, 0 for none), `order` and `download_from_icloud` override the
        settings for this run."""
        scanning = backup.start_scan(paths, excludes, self.events)
        session = self.session  # opening (Argon2id) overlaps the scan
        options = self.run_options()
        if checkpoint_every is not None:
            every = replace(options.checkpoints or CheckpointSettings(), every=checkpoint_every)
            options = replace(options, checkpoints=every if checkpoint_every > 0 else None)
        if order is not None:
            options = replace(options, priority=replace(options.priority, order=order))
        if download_from_icloud is not None:
            options = replace(options, fetch_cloud_only=download_from_icloud)
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

    def _mirrors(self, session: Session) -> tuple[Backend, ...]:
        """The other destinations this computer has written this repository to (copies, seed drives)."""
        others = [loc for loc in session.state.destinations() if loc != session.repo.backend.location]
        return tuple(open_location(loc, s3_credentials(loc), self._network_wait, self.bucket) for loc in others)

    def stop(self) -> bool:
        """Stop the backup, restore or seed job under way (False when none is): it ends within a
        second or two, raising `Stopped`, and keeps what it finished."""
        return self.runner.stop()

    # -- protection --------------------------------------------------------------------------
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

    def replace_session(self, make: Callable[[], Session]) -> Session:
        """Swap the session for a fresh one (after a watcher's full run: its index compact again);
        a thread asking for the session meanwhile waits. The old one is dropped, not closed:
        another thread (the app asking for status) may still hold it."""
        with self._opening:
            self._session = None
            self._session = make()
            return self._session
