"""The user's Stop (the app's button): a backup, a restore, a protection run end within seconds,
keep what they finished, and the next run carries on to the same files."""

from __future__ import annotations

import os
import threading
import time

import pytest

from bench.datasets import assert_same_tree
from engine.base.errors import Stopped
from engine.base.events import Progress
from engine.service import BackupService
from tests.conftest import PASSWORD, eventually


def _tree(root, big: int, small: int) -> None:
    root.mkdir()
    for i in range(big):
        (root / f"video{i}.mov").write_bytes(os.urandom(1 << 20))
    (root / "notes").mkdir()
    for i in range(small):
        (root / "notes" / f"n{i}.txt").write_bytes(os.urandom(3000))


class _InThread:
    """A job on a thread of its own, as the app runs it; `outcome` is its result or what it raised."""

    def __init__(self, job) -> None:
        self.outcome: object = None
        self.ended_at: float | None = None
        self._thread = threading.Thread(target=self._run, args=(job,))
        self._thread.start()

    def _run(self, job) -> None:
        try:
            self.outcome = job()
        except BaseException as e:  # noqa: BLE001 - the test looks at it
            self.outcome = e
        self.ended_at = time.monotonic()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the job did not end"


@pytest.mark.slow
def test_a_throttled_backup_to_s3_stops_within_two_seconds_and_the_next_carries_on(s3_repo, tmp_path):
    src = tmp_path / "src"
    _tree(src, 4, 200)
    service = BackupService(s3_repo)
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    try:
        service.set_limit(256 * 1024)
        before = service.pacer.bucket.sent  # what making the repository sent
        job = _InThread(lambda: service.backup([str(src)]))
        assert eventually(lambda: service.pacer.bucket.sent > before + 400_000, 30), "the upload never started"
        asked = time.monotonic()
        assert service.stop()
        job.join(10)
        assert isinstance(job.outcome, Stopped), job.outcome
        assert job.ended_at - asked < 2.0
        assert not service.stop()  # nothing under way any more
        assert service.history()[0]["status"] == "stopped"
        assert service.last_problem() is None  # the user's stop is no problem to show
        assert not service.check().errors
        service.set_limit(None)
        again = service.backup([str(src)])  # the same service: a stop asked before does not reach it
        assert again.files_new + again.files_changed + again.files_unchanged == 204
        service.restore("latest", str(tmp_path / "back"))
    finally:
        service.close()
    assert_same_tree(src, tmp_path / "back" / "src")


def test_a_stopped_restore_leaves_only_whole_files_and_the_next_finishes_it(tmp_path):
    src = tmp_path / "src"
    _tree(src, 0, 600)
    back = tmp_path / "back"
    stopping: list[BackupService] = []

    def halfway(ev: object) -> None:  # the user clicks Stop a third of the way through
        if stopping and isinstance(ev, Progress) and ev.phase == "restoring" and ev.bytes_done > ev.bytes_total / 3:
            stopping[0].stop()

    service = BackupService(str(tmp_path / "repo"), events=halfway)
    stopping.append(service)
    service.init(PASSWORD, pack_size=64 * 1024)  # many packs: a stop lands between two of them
    service.unlock(PASSWORD)
    try:
        service.backup([str(src)])
        with pytest.raises(Stopped):
            service.restore("latest", str(back))
        restored = sorted(p.name for p in (back / "src" / "notes").iterdir())
        assert 0 < len(restored) < 600
        for name in restored:  # each one there is whole, with its own bytes
            assert (back / "src" / "notes" / name).read_bytes() == (src / "notes" / name).read_bytes()
        assert not [p for p in back.rglob("*") if "staging" in p.name]  # nothing half-written left
        stopping.clear()
        summary = service.restore("latest", str(back))
        assert summary.already_there == len(restored)
    finally:
        service.close()
    assert_same_tree(src, back / "src")


@pytest.mark.slow
def test_a_stopped_protection_run_waits_then_back_up_now_goes_on(s3_repo, tmp_path):
    """Protection's own run, stopped: no run starts again by itself (for an hour), it says when
    protection goes on, and Back Up Now brings everything back up to date."""
    src = tmp_path / "src"
    _tree(src, 3, 20)
    service = BackupService(s3_repo)
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    starts: list[str] = []
    errors: list[Exception] = []
    runs: list[object] = []
    scheduler = service.scheduler([str(src)], [], on_run=runs.append, on_error=errors.append, on_start=starts.append)
    try:
        service.set_limit(256 * 1024)
        before = service.pacer.bucket.sent
        scheduler.start()
        assert eventually(lambda: service.pacer.bucket.sent > before + 300_000, 30), (
            "protection never started uploading"
        )
        assert service.stop()
        assert eventually(lambda: errors, 5)
        assert isinstance(errors[0], Stopped) and "Protection goes on at" in errors[0].hint
        (src / "notes" / "new.txt").write_text("written after the stop")
        time.sleep(4)  # a change, well past the watch's quiet time: nothing starts
        assert starts == ["start"] and not runs
        service.set_limit(None)
        scheduler.back_up_now()
        assert eventually(lambda: runs, 60), errors
        assert len(starts) == 2
    finally:
        scheduler.stop()
        service.close()
    service = BackupService(s3_repo)
    service.unlock(PASSWORD)
    try:
        service.restore("latest", str(tmp_path / "back"))
    finally:
        service.close()
    assert_same_tree(src, tmp_path / "back" / "src")


@pytest.mark.parametrize("in_the_way", ["another computer's clean-up", "another backup of this computer"])
def test_a_backup_waiting_for_its_turn_stops_at_once(tmp_path, in_the_way):
    """Waiting behind a clean-up elsewhere (the repository's lock) or behind this computer's own
    other backup (a terminal's): the user's Stop ends the wait, and nothing of the run is left."""
    src = tmp_path / "src"
    _tree(src, 0, 5)
    repo = str(tmp_path / "repo")
    holder = BackupService(repo)
    holder.init(PASSWORD)
    holder.unlock(PASSWORD)
    waits: list[object] = []
    service = BackupService(repo, events=lambda ev: waits.append(ev) if type(ev).__name__ == "LockWait" else None)
    service.unlock(PASSWORD)
    if in_the_way == "another computer's clean-up":
        held = holder.session.locked("prune", exclusive=True)
    else:
        held = holder.session.one_backup(lambda who, s: None)
    try:
        with held:
            job = _InThread(lambda: service.backup([str(src)]))
            assert eventually(lambda: waits, 30), "the backup never waited"
            asked = time.monotonic()
            assert service.stop()
            job.join(5)
        assert isinstance(job.outcome, Stopped) and job.ended_at - asked < 1.0
        assert service.last_problem() is None and service.snapshots() == []  # never a failure to show
        assert service.backup([str(src)]).files_new == 5  # the way is clear: the next run goes on
    finally:
        service.close()
        holder.close()


def test_a_stop_ends_the_scan_of_the_folders(tmp_path):
    """A first backup of a whole home spends a while listing folders: the scan hears the stop too."""
    from engine.base.stop import Stop
    from engine.jobs.backup import start_scan
    from engine.local.scanner import scan

    src = tmp_path / "src"
    _tree(src, 0, 3)
    asked = Stop()
    asked.ask()
    with pytest.raises(Stopped):
        scan([str(src)], [], [], lambda ev: None, stop=asked)  # at the first folder below
    scanning = start_scan([str(src)])
    with pytest.raises(Stopped):
        scanning.result(asked)  # the job stopped while it waited for the scan...
    assert scanning.stop.asked  # ...and the scan was told to end
