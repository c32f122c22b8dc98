"""Retrying: a backend wrapper that retries transient failures with exponential backoff and jitter.

Timeouts, connection resets and 5xx answers are worth another try; a missing object, a missing
bucket or refused credentials are not, and pass straight through. Before a repository is open a
few quick tries are enough (an unreachable server at start is reported at once, with a hint;
a server that answers with its own error gets the tries below, as it does later);
once work is under way (`patient`), it waits without limit while the network is down, telling
the caller how long each wait is ("waiting for network, retrying in N s"). Delays double from
0.5 s up to 60 s, each drawn between half and all of that (jitter), so many clients do not
retry in step. One exception: a server that keeps failing with its own error on one request
while it answers others has a fault on that object, which no wait mends; that request fails
after a few tries, and the job says so and goes on where it can.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.errors import ServerFault, TransientBackendError

__all__ = ["Retrying"]

_FIRST_DELAY = 0.5
_MAX_DELAY = 60.0
_QUICK_TRIES = 3
#: tries of a request the server keeps failing with its own error (HTTP 500) while it answers
#: others: about 8 s of backoff, then that one request fails (a persistent fault on one object
#: once made a reconcile wait six minutes)
_FAULT_TRIES = 5


class Retrying:
    def __init__(
        self,
        inner,
        on_wait: Callable[[float, TransientBackendError], None] = lambda delay, err: None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.inner = inner
        self.location = inner.location
        self.is_network = inner.is_network
        self.on_wait = on_wait
        self.clock = clock
        #: once True, transient failures are retried without limit
        self.patient = False

    def _retry(self, fn, *args):
        attempt = 0
        while True:
            try:
                return fn(*args)
            except TransientBackendError as e:
                attempt += 1
                quick = _FAULT_TRIES if isinstance(e, ServerFault) else _QUICK_TRIES  # an answer: not unreachable
                if not self.patient and attempt >= quick:
                    raise
                if isinstance(e, ServerFault) and attempt >= _FAULT_TRIES and self._answers():
                    raise  # the server is up and fails on this object alone: waiting would not mend it
                delay = min(_MAX_DELAY, _FIRST_DELAY * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                self.on_wait(delay, e)
                self.clock.sleep(delay)

    def _answers(self) -> bool:
        """Does the destination answer another request (its config's size)?"""
        try:
            self.inner.exists()
        except TransientBackendError:
            return False
        return True

    def exists(self) -> bool:
        return self._retry(self.inner.exists)

    def put(self, name: str, data: bytes | memoryview) -> None:
        self._retry(self.inner.put, name, data)

    def put_file(self, name: str, path: str) -> None:
        self._retry(self.inner.put_file, name, path)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self._retry(self.inner.get, name, offset, length)

    def size(self, name: str) -> int:
        return self._retry(self.inner.size, name)

    def list(self, prefix: str) -> list[str]:
        return self._retry(self.inner.list, prefix)

    def list_sizes(self, prefix: str) -> dict[str, int]:
        return self._retry(self.inner.list_sizes, prefix)

    def list_md5(self, prefix: str) -> dict[str, str]:
        return self._retry(self.inner.list_md5, prefix)

    def delete(self, name: str) -> None:
        self._retry(self.inner.delete, name)
