import threading

import pytest

from engine.backends.ratelimit import SEGMENT, TokenBucket
from engine.base.errors import Stopped
from engine.base.stop import Stop
from tests.manual_clock import ManualClock


def _send(bucket, total, block=131072):
    sent, slices = 0, []
    while sent < total:
        n = bucket.take(min(block, total - sent))
        slices.append(n)
        sent += n
    return slices


def test_long_run_rate_and_small_slices():
    clock = ManualClock()
    rate = 1_300_000 / 8 * 0.8  # 80% of a 1.3 Mbit/s line
    bucket = TokenBucket(rate, clock)
    start = clock.now
    slices = _send(bucket, 2_000_000)
    elapsed = clock.now - start
    assert abs(2_000_000 / elapsed - rate) / rate < 0.01
    assert max(slices) <= max(SEGMENT, rate * 0.005)  # never a whole read buffer at once


def test_starts_empty_and_bursts_at_most_20ms():
    clock = ManualClock()
    bucket = TokenBucket(100_000, clock)
    first = bucket.take(10_000)
    assert clock.now > 1000.0 and first <= 1448  # nothing free at the start
    clock.now += 3600  # a long idle time does not bank an hour of tokens
    granted = 0
    while True:
        before = clock.now
        granted += bucket.take(1448)
        if clock.now > before:
            break
    assert granted <= 100_000 * 0.02 + 2 * 1448  # 20 ms: what an idle moment may put in the modem's queue at once


def test_live_rate_change_takes_effect_at_once():
    clock = ManualClock()
    bucket = TokenBucket(200_000, clock)
    _send(bucket, 200_000)
    bucket.set_rate(50_000)
    start = clock.now
    _send(bucket, 100_000)
    assert abs((clock.now - start) - 2.0) < 0.05
    bucket.set_rate(None)
    start = clock.now
    assert _send(bucket, 10_000_000, block=1 << 20) == [1 << 20] * 9 + [10_000_000 - 9 * (1 << 20)]
    assert clock.now == start  # unlimited never waits


def test_pause_holds_senders_and_resume_releases_them():
    clock = ManualClock()
    bucket = TokenBucket(0, clock)  # paused
    released = []
    waiter = threading.Thread(target=lambda: released.append(bucket.take(5000)))
    real_sleep = clock.sleep
    wakeups = []

    def sleep(seconds):
        wakeups.append(seconds)
        real_sleep(seconds)
        if len(wakeups) == 8:
            bucket.set_rate(100_000)  # resume after two (manual) seconds of pause

    clock.sleep = sleep
    waiter.start()
    waiter.join(5)
    assert released == [1448] and not waiter.is_alive()
    assert all(w <= 0.25 for w in wakeups)  # a paused sender looks again at least 4 times a second
    assert bucket.sent == 1448


def test_a_sender_held_by_a_long_pause_gives_up_so_that_its_request_can_be_closed():
    from engine.backends.ratelimit import Paused

    clock = ManualClock()
    bucket = TokenBucket(0, clock)  # paused from the start
    start = clock.now
    try:
        bucket.take(1000, give_up_after=15)
        raise AssertionError("take returned during a pause")
    except Paused:
        pass
    assert 15 <= clock.now - start < 15.5
    bucket.set_rate(10_000)
    assert bucket.take(1000, give_up_after=15) == 1000  # after resume, sending goes on


def test_wait_while_paused_returns_once_resumed():
    clock = ManualClock()
    bucket = TokenBucket(0, clock)
    ticks = []

    def sleep(seconds):
        ticks.append(seconds)
        clock.now += seconds
        if len(ticks) == 8:
            bucket.set_rate(None)  # resumed two seconds in

    clock.sleep = sleep
    bucket.wait_while_paused()
    assert 1.9 <= sum(ticks) <= 2.1


class _StopAt(ManualClock):
    """A clock whose time asks `stop` to stop once it reaches `at` (the user's click, mid-wait)."""

    def __init__(self, at: float) -> None:
        super().__init__()
        self.at, self.stop = self.now + at, Stop()

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.now >= self.at:
            self.stop.ask()


@pytest.mark.parametrize("rate", [0, 1000])  # paused; a crawl where one slice waits over a second
def test_a_sender_whose_job_is_stopped_gives_up_within_a_quarter_second(rate):
    clock = _StopAt(2.0)
    bucket = TokenBucket(rate, clock)
    bucket.stop = clock.stop
    with pytest.raises(Stopped):
        while True:
            bucket.take(1448)
    assert clock.now - clock.at <= 0.25 + 1e-9
