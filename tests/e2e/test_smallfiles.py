"""A backup of many small files reads them in helper processes (engine.jobs.smallfiles): what
they read restores exact, a file they could not read is read by the backup itself (and said when
it cannot be), a helper killed mid-run costs nothing, and a backup killed leaves no helper behind."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from bench.datasets import assert_same_tree
from engine.backends.local import LocalBackend
from engine.jobs.backup import start_scan
from engine.jobs.session import open_session
from engine.jobs.smallfiles import HELPERS_FROM, helper_count
from engine.repo.repository import Repository
from engine.repo.snapshot import load_snapshots
from tests.conftest import PASSWORD
from tests.jobs import run_backup, run_restore


def small_files(root: Path, count: int) -> None:
    """`count` files of up to 4 KiB in folders of 500: one in 40 empty, one in 25 the same as another."""
    rnd = random.Random(count)
    for n in range(count):
        folder = root / f"d{n // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        data = b"" if n % 40 == 0 else b"the same" if n % 25 == 0 else rnd.randbytes(rnd.randint(1, 4096))
        (folder / f"f{n:05d}").write_bytes(data)


def _helpers(pid: int | None = None) -> list[psutil.Process]:
    """The helper processes of process `pid` (this one by default), frozen or not."""
    found = []
    for child in psutil.Process(pid).children():
        try:
            if "--multiprocessing-fork" in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def watch_helpers(backup: subprocess.Popen) -> list[psutil.Process]:
    """The helpers of a backup running in `backup`, seen before it ends (none: it ended without any)."""
    while not (helpers := _helpers(backup.pid)) and backup.poll() is None:
        time.sleep(0.005)
    return helpers


class _Watch:
    """Notes the helper processes of this process while a backup runs; kills the first one when told."""

    def __init__(self, kill: bool = False) -> None:
        self.seen: set[int] = set()
        self.killed = 0
        self._kill, self._done = kill, threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.02):
            for helper in _helpers():
                self.seen.add(helper.pid)
                if self._kill and not self.killed:
                    helper.kill()
                    self.killed = helper.pid

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _backup_and_restore(tmp_path: Path, src: Path, watch: _Watch, before_reading=lambda: None):
    repo = tmp_path / "repo"
    Repository.create(LocalBackend(repo), PASSWORD)
    scanning = start_scan([str(src)])
    scanning.result()
    before_reading()
    try:
        summary = run_backup(open_session(LocalBackend(repo), PASSWORD), scanning)
    finally:
        watch.stop()
    out, session = tmp_path / "out", open_session(LocalBackend(repo), PASSWORD)
    run_restore(session, load_snapshots(session.repo.backend, session.repo.key)[-1], str(out))
    return summary, out / src.name


def test_many_small_files_are_read_by_helpers_and_restore_exact_and_what_they_cannot_read_is_read_here(
    tmp_path, backbeat_home
):
    counts = [(HELPERS_FROM - 1, 2), (HELPERS_FROM, 1), (HELPERS_FROM, 2), (HELPERS_FROM, 16)]
    assert [helper_count(files, lambda cores=cores: cores) for files, cores in counts] == [0, 0, 2, 4]
    src = tmp_path / "src"
    small_files(src, HELPERS_FROM + 500)
    grows, goes, fifo = src / "d000" / "f00001", src / "d001" / "f00501", src / "d002" / "f01001"

    folders = {p: p.stat().st_mtime_ns for p in (goes.parent, fifo.parent)}  # as the scan saw them

    def between_scan_and_read() -> None:
        """What a helper cannot take: a file grown past a chunk, one deleted, one now a FIFO."""
        grows.write_bytes(random.Random(1).randbytes(3 << 20))
        goes.unlink()
        fifo.unlink()
        os.mkfifo(fifo)

    watch = _Watch()
    summary, restored = _backup_and_restore(tmp_path, src, watch, between_scan_and_read)
    assert watch.seen, "no helper process read the files"
    assert not _helpers(), "the helpers outlived the backup"
    reasons = sorted(s.reason for s in summary.skipped)
    assert reasons == [
        "it is no longer a regular file; it will be backed up next time",
        "it was deleted before it could be read",
    ]
    assert summary.files_new == HELPERS_FROM + 500 - 2
    fifo.unlink()
    for folder, mtime_ns in folders.items():
        os.utime(folder, ns=(mtime_ns, mtime_ns))
    assert_same_tree(src, restored)  # the grown file too: read here, chunked


def test_a_helper_killed_mid_run_costs_nothing(tmp_path, backbeat_home):
    src = tmp_path / "src"
    small_files(src, HELPERS_FROM + 500)
    watch = _Watch(kill=True)
    summary, restored = _backup_and_restore(tmp_path, src, watch)
    assert watch.killed
    assert summary.files_new == HELPERS_FROM + 500 and not summary.skipped
    assert_same_tree(src, restored)


def test_a_backup_killed_leaves_no_helper_behind(cli, tmp_path):
    src = tmp_path / "src"
    small_files(src, HELPERS_FROM + 500)
    cli("init")
    cmd = [sys.executable, "-m", "engine", "backup", str(src), "--repo", str(cli.repo), "-q"]
    proc = subprocess.Popen(cmd, env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    helpers = watch_helpers(proc)
    assert helpers, f"the backup ended before any helper was seen: {proc.stderr.read()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    gone, alive = psutil.wait_procs(helpers, timeout=10)
    assert not alive, f"helpers left running: {alive}"
