"""Whether this computer's network is otherwise idle: the moment for work that can wait.

The automatic clean-up (forget and prune) re-uploads repacked data; on a slow household line it
should not compete with a video call. Between backups, the bytes this computer sends and receives
on its network interfaces (loopback left out) are sampled once a second; the line is idle when
they averaged under `threshold` over the last `window` seconds.
"""

from __future__ import annotations

from collections import deque

import psutil

from engine.base.clock import SYSTEM_CLOCK, Clock

__all__ = ["LineIdle"]


def _bytes_on_the_wire() -> int:
    counters = psutil.net_io_counters(pernic=True)
    return sum(c.bytes_sent + c.bytes_recv for name, c in counters.items() if not name.startswith("lo"))


class LineIdle:
    def __init__(self, clock: Clock = SYSTEM_CLOCK, window: float = 60.0, threshold: float = 16_000.0) -> None:
        self.clock, self.window, self.threshold = clock, window, threshold
        self._samples: deque[tuple[float, int]] = deque()

    def sample(self, total: int | None = None) -> None:
        now = self.clock.monotonic()
        self._samples.append((now, _bytes_on_the_wire() if total is None else total))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()

    def idle(self) -> bool:
        """True once a whole window was watched and it carried less than `threshold` bytes a second."""
        if len(self._samples) < 2:
            return False
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return t1 - t0 >= self.window and (b1 - b0) / (t1 - t0) < self.threshold
