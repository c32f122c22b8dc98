"""Continuous backup with the real observer (inotify here) and a real repository in a folder."""

import logging
import queue
import threading
import time

import pytest

from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.events import FileSkipped
from engine.config.settings import Settings, WatchSettings, save_settings
from engine.jobs import backup
from engine.jobs.continuous import ContinuousBackup
from engine.repo.snapshot import load_snapshots
from engine.repo.tree import Kind
from engine.service import BackupService
from engine.service.schedule import Scheduler

FAST = WatchSettings(quiet=0.3, max_wait=1.5, interval=0.0)


class Running:
    """The scheduler protecting a folder on its own thread, started and stopped as the app does;
    its runs (and errors) arrive on a queue."""

    def __init__(self, tmp_path, settings=FAST, excludes=(), clock=SYSTEM_CLOCK):
        self.src = tmp_path / "src"
        self.src.mkdir()
        save_settings(Settings(watch=settings))
        self.heard: list[object] = []  # the service's events: warnings among them
        self.service = BackupService(str(tmp_path / "repo"), events=self.heard.append)
        self.service.init("pw")
        self.service.unlock("pw")
        self.runs: queue.Queue = queue.Queue()
        self.scheduler = Scheduler(self.service, [str(self.src)], list(excludes), self.runs.put, self.runs.put, clock)
        began = time.monotonic()
        self.scheduler.start()
        assert time.monotonic() - began < 0.5  # the caller (a GUI thread) is not held
        assert self.next().reason == "start"

    def next(self, timeout=10.0):
        return self.runs.get(timeout=timeout)

    def nothing_within(self, seconds: float) -> bool:
        try:
            self.runs.get(timeout=seconds)
            return False
        except queue.Empty:
            return True

    def files(self, run) -> dict[str, int]:
        return {p: e.size for p, e in self.service.list_files(run.summary.snapshot_id) if e.kind == Kind.FILE}

    def close(self):
        assert self.scheduler.stop(10)
        self.service.close()


@pytest.fixture
def running(tmp_path):
    r = Running(tmp_path, excludes=["*.log"])
    yield r
    r.close()


def test_every_kind_of_change_is_in_the_next_snapshot(running):
    src = running.src
    (src / "a.txt").write_text("one")
    assert running.files(running.next()) == {"src/a.txt": 3}
    (src / "a.txt").write_text("rewritten")
    assert running.files(running.next())["src/a.txt"] == 9
    with open(src / "a.txt", "a") as f:
        f.write("+more")
    assert running.files(running.next())["src/a.txt"] == 14
    (src / "a.txt").rename(src / "b.txt")
    assert running.files(running.next()) == {"src/b.txt": 14}
    (src / "dir").mkdir()
    (src / "dir" / "c.txt").write_text("c")
    assert running.files(running.next()) == {"src/b.txt": 14, "src/dir/c.txt": 1}
    (src / "dir").rename(src / "moved")
    assert running.files(running.next()) == {"src/b.txt": 14, "src/moved/c.txt": 1}
    (src / "moved" / "c.txt").write_text("changed in a moved folder")
    assert running.files(running.next())["src/moved/c.txt"] == 25
    (src / "b.txt").unlink()
    assert running.files(running.next()) == {"src/moved/c.txt": 25}
    (src / "new" / "deep").mkdir(parents=True)
    (src / "new" / "deep" / "d.txt").write_text("dd")
    assert running.files(running.next()) == {"src/moved/c.txt": 25, "src/new/deep/d.txt": 2}


def test_partial_runs_list_only_the_changed_folders(running):
    src = running.src
    for i in range(20):
        (src / f"folder{i}").mkdir()
        (src / f"folder{i}" / "f.txt").write_text(str(i))
    running.next()
    (src / "folder7" / "f.txt").write_text("seven")
    run = running.next()
    assert run.reason == "changes" and run.summary.dirs <= 3  # the root, src and folder7; the rest is reused
    files = running.files(run)
    assert len(files) == 20 and files["src/folder7/f.txt"] == 5


def test_excluded_and_temporary_files_do_not_set_off_a_backup(running):
    src = running.src
    (src / "debug.log").write_text("excluded by the user")
    (src / "draft.tmp").write_text("temporary")
    (src / ".cache").mkdir()
    (src / ".cache" / "thumb.bin").write_bytes(b"cache")
    (src / "~$report.docx").write_text("an office lock file")
    assert running.nothing_within(2.0)
    (src / "real.txt").write_text("real")
    assert "src/real.txt" in running.files(running.next())


def test_lost_events_bring_a_full_rescan(running):
    src = running.src
    (src / "unseen.tmp").write_text("the watcher ignores it, a full scan does not")
    logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; filesystem events were lost")
    run = running.next()
    assert run.reason == "lost events"
    assert "src/unseen.tmp" in running.files(run)


def test_a_file_written_without_pause_is_protected_within_the_maximum_wait_and_keeps_one_snapshot(tmp_path):
    r = Running(tmp_path, WatchSettings(quiet=0.3, max_wait=1.5, interval=60.0))
    try:
        log = r.src / "recording.wav"
        first = None
        start = time.monotonic()
        while time.monotonic() - start < 4.0:  # rewritten every 100 ms: never quiet for 0.3 s
            log.write_bytes(b"x" * int((time.monotonic() - start) * 1000 + 1))
            if first is None and not r.runs.empty():
                first = time.monotonic() - start
            time.sleep(0.1)
        assert first is not None and first <= 1.5 + 1.0  # the maximum wait, plus the backup itself
        while not r.nothing_within(1.5):
            pass
        snaps = load_snapshots(r.service.backend, r.service.session.repo.key)
        assert len(snaps) == 1  # one interval, one snapshot: each run replaced the last
        final = {p: e.size for p, e in r.service.list_files(snaps[0].id) if e.kind == Kind.FILE}
        assert final["src/recording.wav"] == log.stat().st_size
        warnings = [e.reason for e in r.heard if isinstance(e, FileSkipped) and e.warning]
        assert not [w for w in warnings if "are gone" in w]  # replaced on purpose: not a snapshot gone missing
    finally:
        r.close()


def test_a_folder_that_cannot_be_watched_is_said_and_scanned_on_a_timer(tmp_path):
    service = BackupService(str(tmp_path / "repo"))
    service.init("pw")
    service.unlock("pw")
    (tmp_path / "here").mkdir()
    seen = []
    folders = [str(tmp_path / "here"), str(tmp_path / "gone")]

    def through(session, job):
        return service.runner.run(backup.NEEDS, job, session=session)

    cb = ContinuousBackup(service.session, folders, [], through, FAST, seen.append)
    stop = threading.Event()
    runs = []
    t = threading.Thread(target=cb.run, args=(stop, runs.append))
    t.start()
    deadline = time.monotonic() + 10
    while not runs and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    t.join(10)
    service.close()
    warnings = [e for e in seen if getattr(e, "warning", False) and "cannot watch it" in e.reason]
    assert warnings and warnings[0].path.endswith("gone") and "every 15 minutes" in warnings[0].reason


def test_a_session_another_thread_holds_keeps_working_when_a_full_run_replaces_it(running):
    """The app's status polling may hold the service's session while the watcher swaps it."""
    held = running.service.session
    logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; filesystem events were lost")
    assert running.next().reason == "lost events"
    assert running.service.session is not held
    assert held.state.loaded_index_files()  # not "Cannot operate on a closed database"


class _SleepyClock(Clock):
    """The system's clocks, with a wall clock a test can move ahead, as a night asleep does."""

    slept = 0.0

    def wall(self) -> float:
        return time.time() + self.slept


def test_after_sleep_everything_is_looked_at_again(tmp_path):
    clock = _SleepyClock()
    r = Running(tmp_path, clock=clock)
    try:
        assert r.nothing_within(1.5)
        clock.slept = 8 * 3600.0  # the lid was shut for the night
        run = r.next()
        assert run.reason == "lost events"  # a full scan, not a partial one
        assert r.scheduler.running
    finally:
        r.close()
    assert not r.scheduler.running


def test_the_scheduler_starts_again_after_a_stop(tmp_path):
    r = Running(tmp_path)
    try:
        assert r.scheduler.stop(10) and not r.scheduler.running
        (r.src / "while-stopped.txt").write_text("made while nothing watched")
        r.scheduler.start()
        run = r.next()
        assert run.reason == "start" and "src/while-stopped.txt" in r.files(run)
    finally:
        r.close()


def test_back_up_now_while_the_destination_is_said_to_be_away_tries_again_at_once(tmp_path):
    """The user sees "can't reach your backup", plugs the drive in and clicks Back Up Now, maybe
    while the failure is still being said: the click is not lost, the next try comes at once (not
    at the next half-minute one). A click once cleared the wake it had just set."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    save_settings(Settings(watch=FAST))
    BackupService(str(tmp_path / "repo")).init("pw")
    (tmp_path / "repo").rename(tmp_path / "unplugged")
    service = BackupService(str(tmp_path / "repo"))
    service.unlock("pw", defer=True)
    heard: queue.Queue = queue.Queue()
    scheduler: Scheduler

    def said(error):
        heard.put(error)
        if not (tmp_path / "repo").exists():
            (tmp_path / "unplugged").rename(tmp_path / "repo")
            scheduler.back_up_now()  # before this report of the failure has returned

    scheduler = Scheduler(service, [str(src)], [], heard.put, said)
    scheduler.start()
    try:
        assert "no repository" in str(heard.get(timeout=10))
        began = time.monotonic()
        assert heard.get(timeout=10).reason == "start"
        assert time.monotonic() - began < 10  # the next try came at once: tries are 30 s apart
    finally:
        assert scheduler.stop(10)
        service.close()
