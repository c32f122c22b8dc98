"""The automatic clean-up: due once a week (counted from the first look), run between continuous
backups, and for a network destination only once the computer's network has been quiet."""

import threading
import time

from engine.config.retention import RetentionPolicy
from engine.config.settings import PruneSettings, Settings, save_settings
from engine.jobs.session import state_path
from engine.local.state import State
from engine.meter.netidle import LineIdle
from engine.service import BackupService
from engine.service.schedule import clean_up_due
from tests.conftest import PASSWORD
from tests.manual_clock import ManualClock


def test_the_line_is_idle_after_a_quiet_minute():
    clock = ManualClock()
    line = LineIdle(clock, window=60, threshold=16_000)
    total = 0

    def traffic(seconds: int, rate: int) -> None:
        nonlocal total
        for _ in range(seconds):
            line.sample(total)
            clock.now += 1
            total += rate

    traffic(30, 1_000)  # half a minute: not enough seen yet
    assert not line.idle()
    traffic(40, 1_000)
    assert line.idle()
    traffic(10, 200_000)  # a video call starts: 200 KB/s
    assert not line.idle()
    traffic(61, 0)
    assert line.idle()


def test_watch_cleans_up_when_due_between_backups(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("one")
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    for text in ("two", "three"):
        service.backup([str(src)])
        (src / "a").write_text(text)
    policy = RetentionPolicy(last=1, hourly=0, daily=0, weekly=0, monthly=0, yearly=0, deleted_days=0)
    save_settings(Settings(retention=policy, prune=PruneSettings(every_days=7)))
    assert not clean_up_due(service.session.state, 7)  # the first look starts the count
    service.session.state.set_last_cleanup(time.time() + 86400 * 365)  # the clock went back a year since
    assert not clean_up_due(service.session.state, 7)
    assert service.session.state.last_cleanup() <= time.time()  # counted from now: due in a week, not a year
    service.session.state.set_last_cleanup(1.0)  # a week and more ago
    assert clean_up_due(service.session.state, 7)

    stop = threading.Event()
    runs = []
    thread = threading.Thread(target=service.scheduler([str(src)], [], runs.append).run, args=(stop,), daemon=True)
    thread.start()
    state = State(state_path(service.repository_id()))  # the watch thread swaps the service's session
    for _ in range(200):
        if state.last_cleanup() != 1.0:
            break
        stop.wait(0.1)
    state.close()
    stop.set()
    thread.join(10)
    assert not clean_up_due(service.session.state, 7) and runs
    assert [s.id for s in service.snapshots()] == [runs[-1].summary.snapshot_id]
    assert service.history(1)[0]["kind"] == "prune"
    service.close()
