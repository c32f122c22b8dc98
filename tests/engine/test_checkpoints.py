"""When a long run makes its checkpoints (`engine.jobs.checkpoint.CheckpointTimer`), and what
each gives the files cache."""

import os

from engine.backends.local import LocalBackend
from engine.base.clock import Clock
from engine.base.events import Checkpoint
from engine.config.settings import CheckpointSettings
from engine.jobs import backup, checkpoint
from engine.jobs.backup import RunOptions, start_scan
from engine.jobs.checkpoint import CheckpointTimer
from engine.jobs.session import open_session
from engine.local.state import State
from engine.repo.repository import Repository
from tests.conftest import PASSWORD
from tests.jobs import run_backup

GIB = 1 << 30


class _Clock(Clock):
    """Time that moves when the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def test_checkpoints_come_every_gib_or_quarter_hour_but_cost_a_run_at_most_a_tenth():
    """Each lists every file so far: to a local drive a GiB comes every 3 s, and checkpoints that
    grow with the files took 58% of a run of 1,000,000 files."""
    clock = _Clock()
    timer = CheckpointTimer(CheckpointSettings(every=900, every_bytes=GIB), clock)
    assert not timer.due(GIB - 1)
    assert timer.due(GIB)
    clock.now = 10.0
    timer.done(GIB, took=10.0)  # a checkpoint of many files
    clock.now = 99.0
    assert not timer.due(9 * GIB)  # 8 GiB more, but 89 s of rest, not 90
    clock.now = 100.0
    assert timer.due(9 * GIB)
    timer.done(9 * GIB, took=0.1)  # a quick one: every GiB again
    clock.now = 101.0
    assert not timer.due(10 * GIB - 1) and timer.due(10 * GIB)
    timer.done(10 * GIB, took=0.1)
    clock.now = 101.0 + 899
    assert not timer.due(10 * GIB)
    clock.now = 101.0 + 900
    assert timer.due(10 * GIB)  # a quarter of an hour, on a slow line


def test_each_file_is_remembered_once_however_many_checkpoints_a_run_makes(tmp_path, backbeat_home, monkeypatch):
    """Each checkpoint gives the files cache the files vouched for since the last one, not every
    file so far: a week-long first upload makes hundreds of checkpoints."""
    src = tmp_path / "src"
    files = 4000
    for f in range(files // 100):
        (src / f"d{f}").mkdir(parents=True)
        for j in range(100):
            path = src / f"d{f}" / f"{j}.txt"
            path.write_bytes(os.urandom(1000 + j))
            os.utime(path, (1_600_000_000, 1_600_000_000))  # old: vouched for, not "changed as the run began"
    monkeypatch.setattr(backup, "_CHECKPOINT_LOOK", 0.005)
    monkeypatch.setattr(checkpoint, "REST", 0.0)
    backend = LocalBackend(tmp_path / "repo")
    Repository.create(backend, PASSWORD)
    session = open_session(backend, PASSWORD)
    rows: list[int] = []
    remember_files = State.remember_files

    def counting(self, pairs):
        pairs = list(pairs)
        rows.append(len(pairs))
        remember_files(self, pairs)

    monkeypatch.setattr(State, "remember_files", counting)
    events: list = []
    options = RunOptions(checkpoints=CheckpointSettings(every=0.0, every_bytes=0))
    summary = run_backup(session, start_scan([str(src)]), events=events.append, options=options)
    made = [e for e in events if isinstance(e, Checkpoint)]
    assert summary.files_new == files
    assert len(made) >= 2, "the run made fewer than two checkpoints: nothing here was tested"
    assert sum(rows) == files, rows
    assert sum(1 for _ in session.state.cached_files()) == files
