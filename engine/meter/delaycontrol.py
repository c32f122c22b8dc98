"""DelayController: the automatic limit ("Keep my internet usable"), a rate controller in the spirit of LEDBAT.

A household's modem has a big queue; an upload that fills it delays every other packet in the
house by up to a second. The controller watches the round-trip time our uploads see, keeps the
lowest one seen recently as the line's base delay, and treats anything above it as queue that we
built. It steers the upload rate so that queue stays under a target (20 ms by default):

- until a queue first appears (a quarter of the target) it ramps up: x1.25 a sample up to 256 KB/s
  (2 Mbit/s: a household line's overshoot stays small), then x6 a second whatever the pace of
  samples (at most x1.5 a sample), so it finds the line's capacity by itself in seconds on any
  line: 100 Mbit/s in about 4 s from its start at 32 KB/s;
- over the target it cuts the rate multiplicatively, harder the further over (x0.85 at twice the
  target, never below x0.5), at most once per round trip, and not while the queue is already
  shrinking (the rate is then below the line's: cutting again would only waste the line);
- under the target it adds to the rate in proportion to how far under it is, and only while
  uploads actually use what they are allowed (an idle moment must not let the rate run far
  ahead of the line). A drop-tail modem shows no delay at all until the line is full, so the
  only warning is the queue itself: like CUBIC, it climbs back quickly to near the rate at which
  the last queue appeared (5% a step), then to a little under the last rate that built no queue
  (1.5% a second, however rarely it is sampled: the link probe samples once a second there), and
  creeps past it (0.3% a step, at least 256 B/s: on a 1.3 Mbit/s line a 1 KB/s floor overshot
  every few seconds), so an overshoot builds little queue before it is seen.

Differences from RFC 6817 (a congestion window per connection): this steers one rate for all of
a process's connections, since that is what the token bucket enforces. Pure logic: time and
samples are passed in, so tests drive it without a network.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["DelayController", "DelayReading"]

TARGET = 0.020
_START_RATE = 32 * 1024
_MIN_RATE = 4 * 1024
_RAMP = 1.25  # a sample, up to _FAST_RAMP_FROM
_FAST_RAMP_FROM = 256 * 1024
_RAMP_PER_SECOND = 6.0  # ... and above it
_RAMP_MAX_STEP = 1.5  # a late sample must not jump the rate far past where the line may be full
_RECOVER = 0.05  # share of the rate added per step, well under the rate of the last queue
_PROBE = 0.003  # ... and near or past it
_NEAR = 0.85
_CLIMB = 0.015  # share of the rate added a second, however far apart the samples, ...
_CLIMB_TO = 0.97  # ... up to a little under the last rate that built no queue
_MIN_STEP = 256
_MAX_CUT = 0.5
_MIN_CUT_GAP = 0.2  # seconds between cuts at the least, however short the round trip
_BASE_MINUTES = 10  # RFC 6817's base history: the minimum of each of the last 10 minutes
_CURRENT_FILTER = 1
_USED = 0.8  # uploads use this much of the allowance: the rate, not the uploader, is the bottleneck


@dataclass(frozen=True)
class DelayReading:
    rate: float
    #: queueing delay over the base in seconds, None before the first sample
    extra_delay: float | None


class DelayController:
    def __init__(self, target: float = TARGET, start_rate: float = _START_RATE, min_rate: float = _MIN_RATE) -> None:
        self.target = target
        self.rate = float(start_rate)
        self.min_rate = float(min_rate)
        self.extra_delay: float | None = None
        self._ramping = True
        self._bases: deque[tuple[int, float]] = deque()  # (minute, least RTT in it)
        self._recent: deque[float] = deque(maxlen=_CURRENT_FILTER)
        self._last_cut = float("-inf")
        self._ceiling = float("inf")  # the rate at which a queue last appeared
        self._queue_at_cut = 0.0  # the highest queue of this congested spell
        self._clear = 0.0  # the rate of the latest sample with next to no queue, the uploads using it
        self._clear_then = 0.0  # ... as it was when the last queue appeared: a cut climbs back to a little under it
        self._congested = False
        self._now = float("-inf")  # the time of the latest sample

    def _base(self, now: float, rtt: float) -> float:
        minute = int(now // 60)
        if self._bases and self._bases[-1][0] == minute:
            self._bases[-1] = (minute, min(self._bases[-1][1], rtt))
        else:
            self._bases.append((minute, rtt))
        while self._bases[0][0] <= minute - _BASE_MINUTES:
            self._bases.popleft()  # a route change is learnt within ten minutes
        return min(b for _, b in self._bases)

    @property
    def line(self) -> float | None:
        """About the line's speed (bytes/s): the rate at which a queue last appeared; None until one has."""
        return self._ceiling if self._ceiling != float("inf") else None

    @property
    def steady(self) -> bool:
        """Holding just under the line's rate with next to no queue: fewer samples are enough (under
        the last rate that built no queue none is expected; past it the creep is slow, and
        `at_edge` asks for more)."""
        return self._holding and self.extra_delay is not None and self.extra_delay <= self.target / 4

    @property
    def at_edge(self) -> bool:
        """Holding where a queue may begin: at or past the last rate that built none, or with a
        small queue (under half the target) building."""
        return (
            self._holding
            and self.extra_delay is not None
            and self.extra_delay <= self.target / 2
            and (self.extra_delay > self.target / 4 or self.rate >= self._clear_then)
        )

    @property
    def _holding(self) -> bool:
        """Steering near the line: past the ramp, no queue over the target, not far under the last queue's rate."""
        return not self._ramping and not self._congested and self.rate >= _NEAR * self._ceiling

    def update(self, now: float, rtt: float, used: float) -> DelayReading:
        """One step per round-trip sample (a few a second): `rtt` in seconds, `used` the rate the
        uploads actually sent lately."""
        since, self._now = now - self._now, now
        base = self._base(now, rtt)
        self._recent.append(rtt)
        queue = max(0.0, min(self._recent) - base)
        self.extra_delay = queue
        off_target = (self.target - queue) / self.target  # 1 with no queue, negative over the target
        if self._ramping and queue > self.target / 4:
            self._ramping = False  # the line is full: from here on, steer
        if off_target < 0:
            if not self._congested:
                self._ceiling, self._queue_at_cut, self._congested = self.rate, 0.0, True
                self._clear_then = self._clear
            if queue >= 0.9 * self._queue_at_cut:  # not draining yet
                self._queue_at_cut = queue
                if now - self._last_cut >= max(_MIN_CUT_GAP, min(self._recent)):  # once per round trip
                    self.rate = max(self.min_rate, self.rate * max(_MAX_CUT, 1 + 0.15 * off_target))
                    self._last_cut = now
        else:
            self._congested = False
            if used >= _USED * self.rate:
                if queue <= self.target / 4:
                    self._clear = self.rate
                if self._ramping:
                    fast = self.rate >= _FAST_RAMP_FROM
                    self.rate *= min(_RAMP_MAX_STEP, _RAMP_PER_SECOND ** min(since, 1.0)) if fast else _RAMP
                elif self.rate < _NEAR * self._ceiling:
                    self.rate += max(_MIN_STEP, _RECOVER * self.rate) * off_target
                elif self.rate < (resume := _CLIMB_TO * self._clear_then):
                    climb = max(_MIN_STEP, _CLIMB * min(since, 1.0) * self.rate) * off_target
                    self.rate = min(resume, self.rate + climb)
                else:
                    self.rate += max(_MIN_STEP, _PROBE * self.rate) * off_target
        return DelayReading(self.rate, queue)
