"""TokenBucket: the one place every byte bound for a network destination asks permission to leave.

It releases bytes in small slices (about 5 ms of the current rate, never less than one TCP
segment), so an upload reaches the modem as a smooth trickle instead of bursts that fill its
queue; a bucket that is new or re-rated starts empty and holds at most 20 ms of burst (100 ms
let an upload that paused between requests put 100 ms into the modem's queue at once: on a
20 Mbit/s line the household's added delay p95 was 11-30 ms with 20, 21-43 ms with 100). The
rate can change at any moment (a schedule, the automatic controller, pause = rate 0) and
waiting senders notice within a quarter of a second, as they notice the user stopping their
job. Time comes from an injected clock, so the logic is tested without waiting.
"""

from __future__ import annotations

import threading

from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.stop import NEVER, Stop

__all__ = ["TokenBucket", "SEGMENT", "Paused"]

#: one TCP segment's payload on Ethernet: no slice is smaller
SEGMENT = 1448
_SLICE_SECONDS = 0.005
_BURST_SECONDS = 0.02
_MAX_WAIT = 0.25
_MIN_WAIT = 0.001


class Paused(Exception):
    """A sender gave up waiting: uploads have been paused longer than it may hold a request open."""


class TokenBucket:
    def __init__(self, rate: float | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        """`rate` in bytes per second; None is unlimited, 0 is paused."""
        self.clock = clock
        self._lock = threading.Lock()
        self._rate = rate  # guarded by self._lock
        self._tokens = 0.0  # guarded by self._lock
        self._stamp = clock.monotonic()  # guarded by self._lock
        self.sent = 0  # guarded by self._lock: bytes granted so far
        self._generation = 0  # guarded by self._lock: bumped by every rate change
        self._paused_since = clock.monotonic() if rate == 0 else None  # guarded by self._lock
        #: the user's stop for the job sending: a waiting sender raises `Stopped` within _MAX_WAIT
        self.stop: Stop = NEVER

    @property
    def rate(self) -> float | None:
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        """Takes effect at once; the bucket starts empty again, so a change never releases a burst,
        and senders waiting on a reservation made at the old rate queue again at the new one."""
        with self._lock:
            now = self.clock.monotonic()
            if rate == 0 and self._paused_since is None:
                self._paused_since = now
            elif rate != 0:
                self._paused_since = None
            self._rate = rate
            self._tokens = 0.0
            self._stamp = now
            self._generation += 1

    def wait_while_paused(self) -> None:
        """Return once uploads may go; a request is not even begun during a pause."""
        while self._rate == 0:
            self.stop.check()
            self.clock.sleep(_MAX_WAIT)
        self.stop.check()

    def _slice_locked(self) -> int:
        return max(SEGMENT, int((self._rate or 0) * _SLICE_SECONDS))

    def _refill_locked(self, now: float) -> None:
        rate = self._rate or 0.0
        capacity = max(self._slice_locked(), rate * _BURST_SECONDS)
        self._tokens = min(capacity, self._tokens + (now - self._stamp) * rate)
        self._stamp = now

    def take(self, want: int, give_up_after: float | None = None) -> int:
        """Wait until a slice may leave; returns how many bytes (1..want) the caller may send now.

        Raises Paused once uploads have been paused for `give_up_after` seconds: a request held
        open longer than a server's idle timeout would be cut by the server anyway.

        A sender reserves its slice at once (tokens may go negative: that is the queue) and sleeps
        exactly until its turn, so several upload threads cost one wake-up per slice, not one each.
        """
        if want <= 0:
            return 0
        while True:
            self.stop.check()
            with self._lock:
                if self._rate is None:
                    self.sent += want
                    return want
                generation = self._generation
                now = self.clock.monotonic()
                if self._rate <= 0:
                    due = None
                    since = self._paused_since if self._paused_since is not None else now
                    if give_up_after is not None and now - since >= give_up_after:
                        raise Paused()
                else:
                    self._refill_locked(now)
                    n = min(want, self._slice_locked())
                    self._tokens -= n
                    due = now + max(0.0, -self._tokens) / self._rate
            if due is None:
                self.clock.sleep(_MAX_WAIT)
                continue
            if self._wait_until(due, generation):
                with self._lock:
                    if self._generation == generation:
                        self.sent += n
                        return n

    def _wait_until(self, due: float, generation: int) -> bool:
        """Sleep until `due`, a quarter of a second at most at a time; False if the rate changed."""
        while True:
            left = due - self.clock.monotonic()
            if left <= 1e-6:
                return True
            self.clock.sleep(min(_MAX_WAIT, max(_MIN_WAIT, left)))
            if self._generation != generation or self.stop.asked:
                return False
