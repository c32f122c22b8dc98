"""When a long run makes its checkpoints (`engine.jobs.checkpoint.CheckpointTimer`)."""

from engine.base.clock import Clock
from engine.config.settings import CheckpointSettings
from engine.jobs.checkpoint import CheckpointTimer

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
