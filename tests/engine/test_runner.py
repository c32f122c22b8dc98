"""One runner gives every job what it declares: a job that declares a lock refuses to run without
it, and jobs of one repository wait for each other as their locks say."""

from __future__ import annotations

import threading
import time

import pytest

from engine.base.events import LockWait
from engine.config.retention import RetentionPolicy
from engine.config.settings import PruneSettings
from engine.jobs import backup, check, forget, prune, reconcile, repair, restore
from engine.jobs.needs import JobWithoutLock, Needs, require
from engine.service import BackupService
from tests.conftest import PASSWORD

#: every job that declares a lock, called the way a new caller that forgot the runner would
UNLOCKED_CALLS = {
    "backup": lambda s, src, out: backup.run_backup(s, backup.start_scan([src])),
    "restore": lambda s, src, out: restore.run_restore(s, _latest(s), out),
    "check": lambda s, src, out: check.run_check(s),
    "repair": lambda s, src, out: repair.run_repair(s),
    "prune": lambda s, src, out: prune.run_prune(s, PruneSettings()),
    "forget": lambda s, src, out: forget.run_forget(s, RetentionPolicy(), time.time_ns()),
    "reconcile": lambda s, src, out: reconcile.run_reconcile(s),
}


def _latest(session):
    from engine.repo.snapshot import load_snapshots

    return load_snapshots(session.repo.backend, session.repo.key)[-1]


@pytest.fixture
def backed_up(service, tmp_path):
    service.backup([str(tmp_path / "src")])
    return service


@pytest.mark.parametrize("job", sorted(UNLOCKED_CALLS))
def test_a_job_that_declares_a_lock_refuses_to_run_without_it(job, backed_up, tmp_path):
    repo = tmp_path / "repo"
    before = sorted((p.relative_to(repo), p.stat().st_size) for p in repo.rglob("*") if p.is_file())
    with pytest.raises(JobWithoutLock, match=job):
        UNLOCKED_CALLS[job](backed_up.session, str(tmp_path / "src"), str(tmp_path / "out"))
    after = sorted((p.relative_to(repo), p.stat().st_size) for p in repo.rglob("*") if p.is_file())
    assert after == before  # refused before it touched anything
    assert not (tmp_path / "out").exists()


def test_an_exclusive_job_refuses_a_shared_lock(backed_up):
    with backed_up.session.locked("backup"):
        require(backed_up.session, Needs("backup", lock="shared"))  # what it declares: fine
        with pytest.raises(JobWithoutLock, match="exclusive"):
            prune.run_prune(backed_up.session, PruneSettings())


def test_every_job_is_run_through_the_runner_and_recorded_as_it_declares(backed_up, tmp_path):
    backed_up.restore("latest", str(tmp_path / "out"))
    backed_up.check()
    backed_up.prune()
    kinds = [run["kind"] for run in backed_up.history()]
    assert kinds == ["prune", "restore", "backup"]  # check declares no history; newest first
    assert all(run["status"] == "ok" for run in backed_up.history())


def test_a_reconcile_racing_a_backup_waits_for_it_then_runs(backed_up, tmp_path):
    """A backup (another process's, here a second service) holds the shared lock: the reconcile,
    which rewrites the index and deletes packs, waits, saying so, and runs once the backup ends."""
    heard: list[object] = []
    reconciler = BackupService(str(tmp_path / "repo"), events=heard.append)
    reconciler.unlock(PASSWORD)
    released = threading.Event()

    def a_backup_under_way() -> None:
        with backed_up.session.locked("backup"):
            time.sleep(3)
            released.set()

    holder = threading.Thread(target=a_backup_under_way)
    holder.start()
    time.sleep(0.5)
    try:
        report = reconciler.reconcile()
        ended_after_release = released.is_set()
    finally:
        holder.join()
        reconciler.close()
    assert ended_after_release
    waits = [e for e in heard if isinstance(e, LockWait)]
    assert waits and waits[0].holder.startswith("backup on ")
    assert report.percent_backed_up == 100.0
