"""The pause file and the live activity file shared by this installation's processes."""

import os
import subprocess
import sys

from engine.meter import control
from tests.manual_clock import ManualClock


def test_pause_until_resumed_survives_a_restart_and_resume_clears_it():
    clock = ManualClock()
    control.pause(None, clock)
    assert control.current_pause(clock).until is None
    assert control.resume() is True
    assert control.current_pause(clock) is None
    assert control.resume() is False


def test_a_timed_pause_ends_by_itself():
    clock = ManualClock()
    control.pause(60, clock)
    clock.wall_time += 59
    assert control.current_pause(clock) is not None
    clock.wall_time += 2
    assert control.current_pause(clock) is None


def test_a_damaged_pause_file_is_not_a_pause(backbeat_home):
    backbeat_home.mkdir(parents=True, exist_ok=True)
    (backbeat_home / "paused").write_text("{not json")
    assert control.current_pause() is None


def test_activity_is_shown_only_while_its_process_lives_and_is_fresh(backbeat_home):
    clock = ManualClock()
    control.publish_activity({"reason": "unlimited"}, clock)
    assert control.read_activity(clock)["reason"] == "unlimited"
    clock.wall_time += 10
    assert control.read_activity(clock) is None  # stale: the job hung or stopped
    # written by a process that has exited
    code = "from engine.meter import control; control.publish_activity({'reason': 'x'})"
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())
    assert control.read_activity() is None
