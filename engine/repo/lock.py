"""Repository locks: who is working on a backup, so that prune never runs beside a backup.

Many shared holders (backups, checks, restores) or one exclusive holder (prune). A lock is a
sealed object `locks/<id>` saying who holds it, for what, since when; the server sees only its
size. A held lock is rewritten every 5 minutes. It is *stale* when its process is known to be
dead (a lock of this computer) or when it has not been rewritten for 30 minutes (another
computer's): a stale lock blocks nobody, and whoever passes one removes it. A run whose own lock
was removed (its computer slept past the half hour, and a prune may have started) learns it at
its next `check()` and stops before it writes an index file or a snapshot.

Taking a lock writes it first and then looks for conflicting ones, so two computers starting at
once both see each other; both step back and try again after a random pause.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

import psutil

from engine.backends.base import Backend, readable
from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.errors import BackendError, IntegrityError, LockLost, ObjectNotFound, RepositoryBusy
from engine.base.home import computer_id
from engine.base.stop import NEVER, Stop
from engine.base.units import format_duration
from engine.repo.crypto import MasterKey, plain_hash

__all__ = ["LockInfo", "RepoLock", "read_locks", "is_stale", "remove_locks", "STALE_AFTER", "REFRESH_EVERY"]

_AAD = b"backbeat lock v1"
STALE_AFTER = 30 * 60.0
REFRESH_EVERY = 5 * 60.0
_POLL = 10.0  # seconds between looks while waiting for another holder
_HEED_STOP = 0.25  # seconds between looks at the user's stop meanwhile
_TICK = 5.0  # the refresher's look at the wall clock (a sleeping computer's monotonic clock stops)


@dataclass(frozen=True)
class LockInfo:
    exclusive: bool
    operation: str
    host: str
    computer_id: str
    pid: int
    #: the process's start time, so a reused pid is not taken for the holder
    process_start: float
    started_ns: int
    #: last rewritten
    time_ns: int
    name: str = ""

    def describe(self, now_ns: int) -> str:
        return (
            f"{self.operation} on {self.host} (started {format_duration(max(0, now_ns - self.started_ns) / 1e9)} ago)"
        )


def _process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, ValueError):
        return None


def is_stale(lock: LockInfo, now_ns: int) -> bool:
    if lock.computer_id == computer_id():
        started = _process_start(lock.pid)
        return started is None or abs(started - lock.process_start) > 1.0
    return now_ns - lock.time_ns > STALE_AFTER * 1e9


def read_locks(backend: Backend, key: MasterKey) -> list[LockInfo]:
    """Every lock that opens with this repository's key (anything else in `locks/` is no lock of ours)."""
    found = []
    for name in readable(backend, "locks/"):
        try:
            doc = json.loads(key.open(backend.get(name), _AAD, name))
            doc.pop("version", None)
            found.append(LockInfo(**doc, name=name))
        except (ObjectNotFound, IntegrityError, ValueError, TypeError):
            continue  # gone meanwhile, damaged, or not ours: it protects nothing
    return found


def remove_locks(backend: Backend, key: MasterKey, *, everything: bool = False, clock: Clock = SYSTEM_CLOCK) -> list:
    """Remove stale locks (or all: only when the user knows no other computer is working). Returns them."""
    now = clock.wall_ns()
    removed = [lock for lock in read_locks(backend, key) if everything or is_stale(lock, now)]
    for lock in removed:
        _delete(backend, lock.name)
    return removed


def _delete(backend: Backend, name: str) -> None:
    try:
        backend.delete(name)
    except ObjectNotFound:
        pass


class RepoLock:
    def __init__(
        self, backend: Backend, key: MasterKey, *, exclusive: bool, operation: str, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.backend, self.key, self.exclusive, self.operation, self.clock = backend, key, exclusive, operation, clock
        self._mutex = threading.Lock()
        self._name: str | None = None  # guarded by self._mutex
        self._lost = False  # guarded by self._mutex
        self._started_ns = 0
        self._refreshed = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- taking and giving back --------------------------------------------------------------
    def acquire(
        self, wait: float = 0.0, on_wait: Callable[[str, float], None] = lambda who, s: None, stop: Stop = NEVER
    ) -> RepoLock:
        """Take the lock, waiting up to `wait` seconds for holders in the way (`on_wait` hears who;
        a `stop` asked meanwhile ends the wait within a quarter second, raising `Stopped`)."""
        deadline = self.clock.monotonic() + wait
        self._started_ns = self.clock.wall_ns()
        while True:
            blocker = self._blocker()
            if blocker is None:
                self._write()
                blocker = self._blocker()
                if blocker is None:
                    self._start_refresher()
                    return self
                self._remove_own()  # someone started at the same moment: both step back
            left = deadline - self.clock.monotonic()
            who = blocker.describe(self.clock.wall_ns())
            if left <= 0:
                raise RepositoryBusy(who)
            pause = min(_POLL * random.uniform(0.5, 1.0), left)
            on_wait(who, pause)
            until = self.clock.monotonic() + pause
            while (nap := until - self.clock.monotonic()) > 0:
                stop.check()
                self.clock.sleep(min(nap, _HEED_STOP))
            stop.check()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._mutex:
            self._remove_own_locked()

    def __enter__(self) -> RepoLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def check(self) -> None:
        """Raise LockLost when this lock is no longer in the repository (call before writing what others read)."""
        with self._mutex:
            if not self._lost and self._name is not None:
                try:
                    self.backend.size(self._name)
                except ObjectNotFound:
                    self._lost = True
            if self._lost:
                raise LockLost()

    def refresh(self) -> None:
        """Rewrite the lock with the time now (the refresher does it every 5 minutes)."""
        with self._mutex:
            if self._name is None or self._lost:
                return
            old = self._name
            try:
                self.backend.size(old)
            except ObjectNotFound:
                self._lost = True
                return
            self._write_locked()
            _delete(self.backend, old)

    # -- inside ------------------------------------------------------------------------------
    def _blocker(self) -> LockInfo | None:
        now = self.clock.wall_ns()
        for lock in read_locks(self.backend, self.key):
            if lock.name == self._name:
                continue
            if is_stale(lock, now):
                _delete(self.backend, lock.name)  # whoever passes a stale lock removes it
            elif self.exclusive or lock.exclusive:
                return lock
        return None

    def _write(self) -> None:
        with self._mutex:
            self._write_locked()

    def _write_locked(self) -> None:
        pid = os.getpid()
        info = LockInfo(
            self.exclusive,
            self.operation,
            socket.gethostname(),
            computer_id(),
            pid,
            _process_start(pid) or 0.0,
            self._started_ns,
            self.clock.wall_ns(),
        )
        doc = asdict(info)
        doc.pop("name")
        data = self.key.seal(json.dumps(doc | {"version": 1}, sort_keys=True).encode(), _AAD)
        name = f"locks/{plain_hash(data).hex()}"
        self.backend.put(name, data)
        self._name, self._refreshed = name, self.clock.wall()

    def _remove_own(self) -> None:
        with self._mutex:
            self._remove_own_locked()

    def _remove_own_locked(self) -> None:
        if self._name is not None:
            try:
                _delete(self.backend, self._name)
            except BackendError:
                pass  # unreachable: it goes stale by itself
            self._name = None

    def _start_refresher(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._refresh_loop, name="repo-lock", daemon=True)
        self._thread.start()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(_TICK):
            if self.clock.wall() - self._refreshed >= REFRESH_EVERY:
                try:
                    self.refresh()
                except BackendError:
                    self._refreshed = self.clock.wall() - REFRESH_EVERY + _POLL  # try again soon
