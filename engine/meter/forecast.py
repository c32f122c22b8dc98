"""How much a run still has to upload, how fast it goes, and when it will be done.

Bytes to upload are what reaches the destination after dedup and compression, not what is read:
before the first pack, each kind of file is sampled and sealed exactly as the run will seal it
(`sample_ratios`), and the estimate walks the reading order (`TailEstimate`: documents go first
and compress, media go last and do not). As the run goes, what was packed for the file bytes
accounted for (packed, or found stored already) corrects the estimate of the rest. Bytes read
but still being sealed count in neither, so big chunks in flight do not skew it.
The rate is averaged over the last five minutes (a slow line's rate swings from second to
second; a window that long still follows a change of limit within minutes). The finish time
walks the bandwidth schedule in force: each period of the timetable goes at its limit, capped
by what the line was seen to carry, so "256 KB/s by day, unlimited at night" gives a finish time
that counts the fast nights.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from engine.base.clock import Clock
from engine.config.bandwidth import Timetable

__all__ = ["Line", "Outlook", "TailEstimate", "UploadForecast", "finish_in", "sample_ratios"]

WINDOW = 300.0
_MIN_WINDOW = 5.0
_SAMPLE_FILES = 32
_SAMPLE_PIECE = 128 * 1024
_HORIZON = 366 * 86400.0
_TAIL_POINTS = 4096


@dataclass(frozen=True)
class Outlook:
    """What governs the line from now on: the limit in force (bytes/s; None unlimited, 0 paused)
    and, when the policy is a schedule, its timetable; and why, in the user's words."""

    limit: float | None
    timetable: Timetable | None = None
    reason: str = ""


class Line(Protocol):
    """A network destination's line, as the pacer sees it."""

    def sent(self) -> int:
        """Bytes sent so far by this process."""
        ...

    def outlook(self) -> Outlook: ...


class TailEstimate:
    """Sealed bytes the last `n` file bytes of the run's reading order will make. The order puts
    documents (which compress) first and media (which do not) last, so one ratio for everything
    would be wrong both ways: each kind of file gets the ratio sampled from its own kind. Kept at
    up to `points` points along the order (a point per file cost ~70 MB at a million files), with
    the sealed bytes in between taken as even."""

    def __init__(
        self, files: Collection[tuple[bytes, int]], ratio_of: Callable[[bytes], float], points: int = _TAIL_POINTS
    ) -> None:
        """`files`: (path, size) in reading order, walked once."""
        step = max(1, -(-len(files) // points))
        raw_at, sealed_at = [0], [0.0]  # cumulative from the start of the order
        raw, sealed = 0, 0.0
        i = 0
        for i, (path, size) in enumerate(files, 1):
            raw += size
            sealed += size * ratio_of(path)
            if i % step == 0:
                raw_at.append(raw)
                sealed_at.append(sealed)
        if i % step:
            raw_at.append(raw)
            sealed_at.append(sealed)
        self._raw = [raw - r for r in reversed(raw_at)]  # cumulative from the end
        self._sealed = [sealed - s for s in reversed(sealed_at)]

    def __call__(self, n: int) -> float:
        """For the last `n` bytes (a file partly inside counts in proportion)."""
        n = max(0, min(n, self._raw[-1]))
        i = bisect.bisect_left(self._raw, n)
        if self._raw[i] == n:
            return self._sealed[i]
        lo, hi = self._raw[i - 1], self._raw[i]
        return self._sealed[i - 1] + (self._sealed[i] - self._sealed[i - 1]) * (n - lo) / (hi - lo)

    @property
    def total(self) -> float:
        return self._sealed[-1]


def sample_ratios(
    files: Iterable[tuple[bytes, int]], seal: Callable[[bytes], int], kind_of: Callable[[bytes], str]
) -> Callable[[bytes], float]:
    """path -> sealed bytes per byte read, from pieces of up to 32 files of each kind spread across
    `files` (path, size; walked twice), sealed as the run will seal them; a kind with no readable sample takes
    the ratio of all samples (1.0 when there are none). Two passes (count, then pick), so only the
    samples are held."""
    counts = Counter(kind_of(path) for path, _ in files)
    steps = {kind: max(1, n // _SAMPLE_FILES) for kind, n in counts.items()}
    passed: Counter[str] = Counter()
    picked: dict[str, list[tuple[bytes, int]]] = {kind: [] for kind in counts}
    for path, size in files:
        kind = kind_of(path)
        if passed[kind] % steps[kind] == 0 and len(picked[kind]) < _SAMPLE_FILES:
            picked[kind].append((path, size))
        passed[kind] += 1
    seen: dict[str, tuple[int, int]] = {}
    for kind, members in picked.items():
        raw = sealed = 0
        for path, size in members:
            try:
                with open(path, "rb") as f:
                    f.seek(max(0, size // 2 - _SAMPLE_PIECE // 2))
                    piece = f.read(_SAMPLE_PIECE)
            except OSError:
                continue
            if piece:
                raw += len(piece)
                sealed += seal(piece)
        if raw:
            seen[kind] = (raw, sealed)
    overall = sum(s for _, s in seen.values()) / max(1, sum(r for r, _ in seen.values())) if seen else 1.0
    ratios = {kind: sealed / raw for kind, (raw, sealed) in seen.items()}
    return lambda path: ratios.get(kind_of(path), overall)


def finish_in(remaining: float, rate: float, outlook: Outlook, now: datetime, capacity: float) -> float | None:
    """Seconds until `remaining` bytes are sent; None when it cannot be said (paused, nothing measured)."""
    if remaining <= 0:
        return 0.0
    if outlook.limit == 0:
        return None
    if outlook.timetable is None or len(outlook.timetable.entries) < 2:
        return remaining / rate if rate > 0 else None
    if capacity <= 0:
        return None
    t, left = 0.0, remaining
    while t < _HORIZON:
        when = now + timedelta(seconds=t)
        limit, following = outlook.timetable.at(when)
        minute = when.weekday() * 1440 + when.hour * 60 + when.minute + when.second / 60
        span = ((following - minute) % (7 * 1440)) * 60 or 7 * 86400.0
        speed = capacity if limit is None else min(limit, capacity)
        if speed * span >= left:
            return t + left / speed
        left -= speed * span
        t += span
    return None


class UploadForecast:
    """Fed about once a second by the run; read by whoever shows progress."""

    def __init__(self, clock: Clock, tail: TailEstimate, to_read: int) -> None:
        self.clock = clock
        self.to_read = to_read
        self.tail = tail
        self._lock = threading.Lock()
        self._accounted = self._packed = self._sent = self._deduped = 0  # guarded by self._lock
        self._samples: deque[tuple[float, int]] = deque()  # guarded by self._lock
        #: guarded by self._lock: the most the line was seen to carry (a schedule's faster hours are
        #: counted at no more than that: the line may be faster, but that was not seen)
        self._capacity = 0.0

    def update(self, accounted: int, packed: int, sent: int, limit: float | None, deduped: int = 0) -> None:
        """`accounted`: file bytes packed or found stored (`deduped` of them found stored);
        `packed`: bytes packed; `sent`: on the line."""
        now = self.clock.monotonic()
        with self._lock:
            self._accounted, self._packed, self._sent = accounted, packed, sent
            self._deduped = deduped
            self._samples.append((now, sent))
            while len(self._samples) > 2 and now - self._samples[1][0] >= WINDOW:
                self._samples.popleft()
            if limit != 0:
                self._capacity = max(self._capacity, self._rate_locked())

    def _rate_locked(self) -> float:
        (t0, s0), (t1, s1) = self._samples[0], self._samples[-1]
        return (s1 - s0) / (t1 - t0) if t1 - t0 >= _MIN_WINDOW else 0.0

    @property
    def total(self) -> int:
        """Packed so far, plus the sampled estimate for what is not yet accounted for, corrected by
        how the bytes packed so far compared with their own estimate (a sample that missed).
        What was found stored is not taken to go on being found: after an interrupted upload the
        files read first are the ones already sent, and the rest is all to send (counting that
        dedup on, the first estimate of what was left was a fifth of the truth)."""
        with self._lock:
            accounted, packed, sent, deduped = self._accounted, self._packed, self._sent, self._deduped
        left = max(0, self.to_read - accounted)
        expected_done = (self.tail.total - self.tail(left)) * (accounted - deduped) / max(1, accounted)
        correction = packed / expected_done if accounted - deduped >= 8 << 20 and expected_done > 0 else 1.0
        return max(sent, int(packed + self.tail(left) * correction))

    @property
    def sent(self) -> int:
        with self._lock:
            return self._sent

    @property
    def rate(self) -> float:
        with self._lock:
            return self._rate_locked() if self._samples else 0.0

    def eta(self, outlook: Outlook, now: datetime) -> float | None:
        with self._lock:
            capacity = self._capacity
        return finish_in(self.total - self.sent, self.rate, outlook, now, capacity)
