"""An open repository on this machine: unlocked, with its index loaded through the local cache.

Opening reads only the index files this machine has not seen (the rest come from the SQLite
cache), and recovers packs that a killed run finished but never indexed: a journaled pack still
in the outbox is delivered first, then each journaled pack at the destination is read back from
its own header and indexed again, so the next run reuses it instead of writing it twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from engine.backends.base import Backend, list_packs, pack_ids
from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import BackendError, IntegrityError, RepositoryBusy, UnauthenticatedConfig
from engine.base.home import app_dir
from engine.base.memory import release_memory
from engine.base.stop import NEVER, Stop
from engine.local.outbox import Outbox
from engine.local.state import State
from engine.repo.blobstore import BlobStore
from engine.repo.index import Index, PackInfo, index_plain
from engine.repo.lock import RepoLock
from engine.repo.repository import Repository

__all__ = [
    "Session",
    "open_session",
    "recover",
    "forget_unlisted_packs",
    "reload_session",
    "rebuild_index",
    "state_path",
]


_log = logging.getLogger(f"backbeat.{__name__}")  # under the product's log: its file, its redaction
#: how often a backup waiting for another one looks again, and says it still waits (seconds)
_LOOK_EVERY, _SAY_EVERY = 0.5, 10.0


def state_path(repo_id: str) -> Path:
    return app_dir() / "state" / f"{repo_id}.sqlite"


@contextlib.contextmanager
def _run_lock(repo_id: str, exclusive: bool) -> Iterator[bool]:
    """Processes of this machine on one repository: a run holds it shared; recovering a killed
    run's packs needs it alone (a status question from another process must never deliver or
    delete the outbox of a backup that is alive). Yields whether it was had."""
    path = state_path(repo_id).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@dataclass
class Session:
    repo: Repository
    state: State
    index: Index
    #: the repository lock this session's job holds, if any
    lock: RepoLock | None = None
    #: no lock can be written there (a read-only drive, read-only keys): readers go on without one
    lock_unwritable: bool = False
    #: what opening mended in the index, said once (`check` reports it)
    healed: str | None = None
    #: whether a killed run's packs were delivered and named (engine.jobs.session.recover)
    recovered: bool = False
    #: a seed drive filled beside its destination: the index is the destination's, never the drive's
    beside: bool = False
    #: the user's stop for the job under way (the runner gives a stoppable job a fresh one)
    stop: Stop = NEVER

    @cached_property
    def outbox(self) -> Outbox:
        """The one path by which this session's jobs write packs, index files and snapshots."""
        return Outbox(self.repo, self.state, self.check_lock)

    @cached_property
    def reader(self) -> BlobStore:
        """One read-only blob store per session, so decoded trees are fetched once for every job."""
        return BlobStore(self.repo.key, self.index, self.repo.backend)

    @property
    def upload_threads(self) -> int:
        """A few uploads in flight fill a fast link; a local disk wants one writer."""
        return 4 if self.repo.backend.is_network else 1

    def cache_index(self, files: dict[str, list[PackInfo]]) -> None:
        """The local index cache becomes exactly these index files (after a rewrite)."""
        self.state.reset_index_cache()
        for name, infos in files.items():
            self.state.cache_index_file(name, index_plain(infos))

    @contextlib.contextmanager
    def one_backup(self, on_wait: Callable[[str, float], None]) -> Iterator[None]:
        """Two backups of this repository on this computer (the app and a terminal, two terminals)
        run one after the other: the second waits, saying so every 10 s, and never touches the
        first one's files."""
        path = state_path(self.repo.id).with_suffix(".backup.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            waited = 0.0
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if waited % _SAY_EVERY == 0:
                        on_wait("other backup of this computer", _SAY_EVERY)
                    self.stop.check()  # the user may give up waiting
                    SYSTEM_CLOCK.sleep(_LOOK_EVERY)
                    waited += _LOOK_EVERY
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def running(self) -> contextlib.AbstractContextManager[bool]:
        """Held by a backup while it writes packs: no other process recovers them meanwhile."""
        return _run_lock(self.repo.id, exclusive=False)

    @contextlib.contextmanager
    def locked(
        self,
        operation: str,
        *,
        exclusive: bool = False,
        wait: float = 0.0,
        on_wait: Callable[[str, float], None] = lambda who, s: None,
    ) -> Iterator[RepoLock]:
        """Hold the repository lock for a job (engine.repo.lock), then bring the index up to date: a
        prune may have rewritten it since this session loaded it, another computer's backup or a
        seed's load added to it (a reconcile in the app, whose session is days old, saw no seed)."""
        lock = RepoLock(self.repo.backend, self.repo.key, exclusive=exclusive, operation=operation)
        lock.acquire(wait, on_wait, self.stop)
        self.lock = lock
        try:
            self.refresh_index()
            yield lock
        finally:
            self.lock = None
            lock.release()

    def check_lock(self) -> None:
        """Before writing what other computers read: raises LockLost when this job's lock was broken."""
        if self.lock is not None:
            self.lock.check()

    def refresh_index(self) -> bool:
        """Load index files written elsewhere; start afresh when some went away (a prune). True when reloaded."""
        if self.beside or self.index.has_pending():
            return False  # packs of a failed run still wait for their index file: keep them
        _sync_index_cache(self.repo, self.state)
        if self.state.loaded_index_files() == self.index.files:
            return False
        self.reload_index()
        return True

    def reload_index(self) -> None:
        """The index again from the local cache (after this process or another rewrote it)."""
        index = Index()
        self.state.load_index(index)
        self.index = index
        self.__dict__.pop("reader", None)  # its decoded trees may name packs that are gone

    def settle_index(self) -> None:
        """After a run that added many blobs (a first backup): the index again from the cache's
        index files, packed and saved now, so the next run opens it instead of sorting them all
        (and this process, if it lives on, holds the table instead of their dict)."""
        if self.index.worth_compacting() and not self.beside:
            self.reload_index()
            release_memory()  # the dict of what was added: a process that lives on gives it back

    def close(self) -> None:
        self.state.close()


def _open_state(repo: Repository) -> State:
    """This computer's state for `repo`, its cached records checked with a key of the repository's;
    the index files this computer deleted at that destination are refused from then on."""
    state = State(state_path(repo.id), record_key=repo.key.subkey("backbeat local records", 32))
    repo.refused_index = state.deleted_index_files(repo.backend.location)
    return state


def _sync_index_cache(repo: Repository, state: State) -> tuple[bool, list[str]]:
    """Load index files this machine has not seen. Returns whether the index is whole (False when
    one is damaged, one it had loaded went away, or there are none) and the names of those.

    The index files of a seed drive still on its way to this destination stay in the cache: its
    blobs count as stored, so backups meanwhile send only what the drive lacks."""
    names = set(repo.index_names())
    state.drop_altered_index_files()
    seed = state.pending_seed(repo.backend.location)
    coming = {n for n in seed["objects"] if n.startswith("index/")} if seed else set()
    loaded = state.loaded_index_files()
    healthy = bool(names | (coming & loaded))
    troubles = sorted(loaded - names - coming)
    if troubles:  # an index file went away (a prune elsewhere, or lost): start afresh
        state.reset_index_cache()
        loaded = set()
        healthy = False  # packs it named that are still there are found again from their headers
    for name in sorted(names - loaded):
        try:
            state.cache_index_file(name, repo.read_index(name))
        except IntegrityError:
            healthy = False  # its packs are found again from their own headers
            troubles.append(name)
    return healthy, troubles


def rebuild_index(repo: Repository, index: Index) -> int:
    """Index every pack at the destination that no index file names, from its own header."""
    added = 0
    for pack_id in repo.pack_ids():
        if pack_id not in index.pack_sizes:
            try:
                index.add_pack(repo.pack_header(pack_id), pending=True)
                added += 1
            except IntegrityError:
                continue  # a damaged pack: `check` reports it
    return added


def open_session(
    backend: Backend, passphrase: str, *, trust_config: bool = False, beside: Repository | None = None
) -> Session:
    """Open for reading: nothing is written to the destination (packs no index file names are
    indexed in memory from their own headers). A job that writes calls `recover` first.

    A `config` without its MAC is trusted only when this computer used the repository before
    without one (it was made before configs had one), or with `trust_config` (the user says so);
    never when this computer has seen it with one: then it was removed (engine.base.errors).

    `beside`: `backend` is a seed drive being filled for that destination (the same repository):
    the index is the destination's (its index files, through this computer's cache), not the
    drive's, so what the destination holds already is not written to the drive again (a drive
    made for a bucket that held everything doubled the bucket once loaded)."""
    repo = Repository.open(backend, passphrase)
    known = state_path(repo.id).exists()
    state = _open_state(repo)
    seen = state.config_seen()
    if repo.authenticated:
        state.set_config_seen("mac")
    elif seen == "mac" or not (trust_config or (known and seen is None) or seen == "none"):
        state.close()
        raise UnauthenticatedConfig(
            f"{backend.location}" + (" (this computer saw it with one: it was removed)" if seen == "mac" else "")
        )
    else:
        state.set_config_seen("none")
    healthy, troubles = _sync_index_cache(beside or repo, state)
    index = Index()
    state.load_index(index)
    session = Session(repo, state, index, beside=beside is not None)
    rebuilt = 0 if healthy or beside else rebuild_index(repo, index)
    if rebuilt and troubles:
        session.healed = (
            f"index file(s) {', '.join(troubles)} went away or are damaged at {repo.backend.location}; "
            f"{rebuilt} pack(s) no other index file names were indexed again from their own headers"
        )
        _log.warning("%s", session.healed)
    return session


def recover(session: Session) -> None:
    """Before a job writes to the destination (once per session): deliver what a killed run left in
    the outbox and name its packs, and those rebuilt from headers, in an index file. Never for a
    reader: `snapshots` or `status` must not upload (nor at full speed, nor while uploads are paused)."""
    if session.recovered:
        return
    session.recovered = True
    if not session.repo.authenticated:  # an older repository, trusted on opening: it gets its MAC now
        session.repo.add_mac()
        session.state.set_config_seen("mac")
    with _run_lock(session.repo.id, exclusive=True) as alone:
        if alone:  # no run of this computer is alive: half-written packs are a killed run's
            session.outbox.drop_parts()
        journaled = alone and bool(session.state.journaled_packs())
        if journaled or session.index.has_pending():
            _recover(session, journaled)


def _recover(session: Session, journaled: bool) -> None:
    """Name a killed run's packs (and packs no index names) in an index file now, so the journal
    empties and the next open does not read their headers again. Under the repository lock: a
    prune must not delete a pack while it is being named; when one runs, this waits for the next open."""
    held = session.lock  # the job's own, when it called this under it (prune, repair, reconcile)
    lock: RepoLock | None = None
    if held is None:
        lock = RepoLock(session.repo.backend, session.repo.key, exclusive=False, operation="recovery")
        try:
            lock.acquire()
        except RepositoryBusy:  # a prune: packs rebuilt from headers just now may be on their way out
            session.reload_index()
            return
        except BackendError:
            lock = None  # a read-only destination: nothing can be written there, so no lock is needed
        session.lock = lock
    try:
        if journaled:
            session.outbox.deliver_journaled(session.index)
        if session.index.has_pending():
            session.outbox.send_index(session.index)
    except BackendError:
        pass  # a read-only destination: the index serves this session from memory
    finally:
        session.lock = held
        if lock is not None:
            lock.release()


def forget_unlisted_packs(session: Session, keep_unplaced: bool = False) -> tuple[int, int]:
    """One listing of the destination: a pack the index names that it does not list with that size
    (lost, or named by an index file replayed after a prune) is dropped from this session's index,
    so nothing is deduplicated against it or read from it; its blobs fall back to another place
    they are stored, or the next backup stores them again. Packs of a seed drive still on its way
    count as there. With `keep_unplaced` (a restore), blobs stored nowhere else keep their place:
    another destination may have their pack. Returns (packs dropped, blobs with no other place);
    what the destination holds is noted. Not for a seed drive filled beside its destination: it
    holds only what the destination lacks, so its listing says nothing of the destination's packs."""
    if session.beside:
        return 0, 0
    location = session.repo.backend.location
    listed = list_packs(session.repo.backend)
    seed = session.state.pending_seed(location)
    coming = pack_ids(seed["objects"]) if seed else set()
    session.state.set_held(location, listed)
    lost = {p for p, size in session.index.pack_sizes.items() if listed.get(p) != size and p not in coming}
    if not lost:
        return 0, 0
    forgotten = session.index.drop_packs(lost, keep_unplaced)
    session.__dict__.pop("reader", None)  # its decoded trees may name the lost packs
    _log.warning(
        "%s: %d pack(s) the index names are not there; %d blob(s) to store again", location, len(lost), forgotten
    )
    return len(lost), forgotten


def reload_session(repo: Repository) -> Session:
    """An unlocked repository's session with its state and index loaded afresh from the local cache.

    For a process that lives on after a big run (a watcher): the old index's objects lie among the
    memory the run's scan filled, which Python cannot give back while they live. The caller drops
    the old session; this releases that memory, then reloads: the new index is compact (195 -> 105
    MiB after a first backup of 100,000 files)."""
    release_memory()
    state = _open_state(repo)
    index = Index()
    state.load_index(index)
    return Session(repo, state, index)
