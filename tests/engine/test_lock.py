"""Repository locks on a real folder: who blocks whom, what is stale, and what a broken lock does."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from engine.backends.local import LocalBackend
from engine.base.errors import LockLost, RepositoryBusy
from engine.repo.crypto import MasterKey
from engine.repo.lock import STALE_AFTER, RepoLock, read_locks, remove_locks
from tests.manual_clock import ManualClock

KEY = MasterKey.generate()


@pytest.fixture
def backend(tmp_path) -> LocalBackend:
    (tmp_path / "repo").mkdir()
    return LocalBackend(str(tmp_path / "repo"))


def lock(backend, exclusive=False, operation="backup", clock=None) -> RepoLock:
    return RepoLock(backend, KEY, exclusive=exclusive, operation=operation, **({"clock": clock} if clock else {}))


def test_shared_holders_coexist_and_an_exclusive_one_waits_for_them(backend):
    a, b = lock(backend).acquire(), lock(backend).acquire()
    with pytest.raises(RepositoryBusy) as err:
        lock(backend, exclusive=True, operation="prune").acquire()
    assert f"backup on {socket.gethostname()} (started " in str(err.value)
    a.release()
    with pytest.raises(RepositoryBusy):
        lock(backend, exclusive=True).acquire()
    b.release()
    with lock(backend, exclusive=True, operation="prune").acquire():
        with pytest.raises(RepositoryBusy) as err:
            lock(backend).acquire()
        assert "prune on " in str(err.value)
    assert read_locks(backend, KEY) == []


def test_waiting_says_who_and_gives_up_after_the_wait(backend):
    clock = ManualClock()
    heard = []
    with lock(backend, exclusive=True, operation="prune").acquire():
        with pytest.raises(RepositoryBusy):
            lock(backend, clock=clock).acquire(wait=60, on_wait=lambda who, s: heard.append((who, s)))
    assert 6 <= len(heard) <= 13 and all(who.startswith("prune on ") and s <= 10 for who, s in heard)


def test_a_lock_left_by_a_killed_process_of_this_computer_is_stale_at_once(backend, tmp_path):
    code = (
        "import sys, time\n"
        "from engine.backends.local import LocalBackend\n"
        "from engine.repo.crypto import MasterKey\n"
        "from engine.repo.lock import RepoLock\n"
        f"key = MasterKey.from_bytes(bytes.fromhex('{KEY.to_bytes().hex()}'))\n"
        f"RepoLock(LocalBackend({str(backend.location)!r}), key, exclusive=True, operation='prune').acquire()\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "locked\n"
    with pytest.raises(RepositoryBusy):
        lock(backend).acquire()  # alive: it holds
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with lock(backend).acquire():  # dead: its lock blocks nobody, and is removed on the way
        assert len(read_locks(backend, KEY)) == 1


def test_another_computers_lock_goes_stale_after_half_an_hour_without_refresh(backend, tmp_path, monkeypatch):
    writer_clock = ManualClock(wall=1_000_000.0)
    monkeypatch.setenv("BACKBEAT_HOME", str(tmp_path / "other-computer"))
    other = lock(backend, exclusive=True, operation="prune", clock=writer_clock).acquire()
    other._stop.set()  # that computer went to sleep: nothing refreshes it
    monkeypatch.setenv("BACKBEAT_HOME", str(tmp_path / "this-computer"))
    reader_clock = ManualClock(wall=1_000_000.0 + STALE_AFTER - 60)
    with pytest.raises(RepositoryBusy):
        lock(backend, clock=reader_clock).acquire()
    assert remove_locks(backend, KEY, clock=reader_clock) == []  # not stale yet: `unlock` leaves it
    reader_clock.wall_time += 120
    with lock(backend, clock=reader_clock).acquire():
        pass
    # the sleeper wakes up: its refresh finds its lock gone, and its next check stops the run
    monkeypatch.setenv("BACKBEAT_HOME", str(tmp_path / "other-computer"))
    other.refresh()
    with pytest.raises(LockLost):
        other.check()
    other.release()


def test_refresh_rewrites_the_lock_and_removes_the_old_one(backend):
    clock = ManualClock(wall=5000.0)
    held = lock(backend, clock=clock).acquire()
    (before,) = read_locks(backend, KEY)
    clock.wall_time += 300
    held.refresh()
    (after,) = read_locks(backend, KEY)
    assert after.name != before.name and after.time_ns - before.time_ns == 300 * 10**9
    assert after.started_ns == before.started_ns
    held.check()
    held.release()
    assert read_locks(backend, KEY) == []


def test_a_lock_says_nothing_to_the_server(backend, monkeypatch):
    # a host name long enough that ciphertext cannot hold it by chance (this machine's is "vm")
    monkeypatch.setattr(socket, "gethostname", lambda: "backbeat-test-host-7f3a9c")
    with lock(backend, operation="backup").acquire():
        (name,) = [p for p in Path(backend.location, "locks").iterdir()]
        raw = name.read_bytes()
    assert b"backbeat-test-host-7f3a9c" not in raw and b"backup" not in raw
    assert read_locks(backend, MasterKey.generate()) == []  # another repository's key opens nothing


def test_unlock_all_removes_live_locks_too(backend):
    held = lock(backend).acquire()
    assert remove_locks(backend, KEY) == []
    assert [x.operation for x in remove_locks(backend, KEY, everything=True)] == ["backup"]
    with pytest.raises(LockLost):
        held.check()
    held.release()
