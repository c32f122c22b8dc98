"""The round-trip time through the household's line right now: the automatic limit's only sensor.

The queue our upload builds in the modem shows up as extra round-trip time on every packet that
crosses it. A TCP handshake with the server our uploads are talking to measures it freshly and
without privileges: the server's kernel answers the SYN at once, so no application delay is in
it, and the probe follows the uploads' own path (the same address, even behind a service with
many). It costs three small packets (SYN, ACK, RST: no FIN exchange, no TIME_WAIT; 194 bytes): about
0.6% of a 1.3 Mbit/s line at five probes a second, which it takes only while the delay moves (the
automatic limit ramping, cutting, recovering from a deep cut, or a queue of half its target or
more); twice a second (0.24%) where a queue may begin (at or past the last rate that built none,
or a small queue building); once a second (0.12%) while the rate holds under that with no queue,
a mild cut's drained queue included. Measured over a household run's first minute, all together:
0.17-0.22% of the line (0.27-0.29% while it kept the fast pace for 3 s after every cut). It runs
only while an upload is under way.

The uploads' own smoothed RTT (TCP_INFO) was tried first: it costs nothing, but it is averaged
over ACKs, and once the rate has been cut there are few ACKs, so it reported a queue long gone
for seconds and drove the rate to the floor (see docs/architecture.md). TCP_INFO still tells
which connections are uploading, and to whom.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable

from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.platform import current as platform

__all__ = ["upload_peer", "handshake_rtt", "LinkProbe", "FAST", "EDGE", "STEADY", "WIRE_BYTES"]

FAST = 0.2  # seconds between handshakes while the delay moves
EDGE = 0.5  # ... where a queue may begin (`DelayController.at_edge`)
STEADY = 1.0  # ... while the rate holds under that with no queue (`DelayController.steady`)
WIRE_BYTES = 194  # a handshake's packets on the wire (SYN, ACK, RST)


def _tcp_sockets() -> list[int]:
    """This process's descriptors that are sockets (TCP or not: reading TCP_INFO tells)."""
    out = []
    for name in os.listdir("/dev/fd"):
        try:
            if stat.S_ISSOCK(os.fstat(int(name)).st_mode):
                out.append(int(name))
        except OSError:
            continue  # the listing's own descriptor, or one closed meanwhile
    return out


def upload_peer() -> tuple[str, int] | None:
    """(address, port) of a server this process is uploading to now, or None."""
    for fd in _tcp_sockets():
        try:
            dup = os.dup(fd)
        except OSError:
            continue  # closed since it was listed
        try:
            with socket.socket(fileno=dup) as sock:  # closing the duplicate leaves the connection alone
                if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                if platform().uploading(sock):
                    return sock.getpeername()[:2]
        except (OSError, struct.error):
            continue  # not a connected TCP socket (a listener, or a descriptor reused meanwhile)
    return None


def handshake_rtt(peer: tuple[str, int], timeout: float = 3.0) -> float | None:
    """Seconds for a TCP handshake with `peer` (`timeout` if it takes that long: a badly full queue)."""
    family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        sock.settimeout(timeout)
        start = time.perf_counter()
        try:
            sock.connect(peer)
        except TimeoutError:
            return timeout
        except OSError:
            return None  # refused or unreachable: no reading
        return time.perf_counter() - start


class LinkProbe:
    """Handshakes with the upload's server a few times a second, in a thread of its own (a handshake
    through a full queue takes as long as the queue); the pacer collects the samples."""

    def __init__(
        self,
        interval: float = FAST,
        peer: Callable[[], tuple[str, int] | None] = upload_peer,
        measure: Callable[[tuple[str, int]], float | None] = handshake_rtt,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        #: seconds between handshakes: the pacer sets FAST or STEADY as the delay moves or holds
        self.interval = interval
        #: handshakes made (the probe's own cost on the line: each is about WIRE_BYTES)
        self.handshakes = 0
        self.clock = clock
        #: measure only while True (the automatic limit is in force and not paused)
        self.wanted = False
        self._peer = peer
        self._measure = measure
        self._lock = threading.Lock()
        self._samples: list[tuple[float, float]] = []  # guarded by self._lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self) -> list[tuple[float, float]]:
        """(monotonic time, seconds) of the samples since the last call."""
        with self._lock:
            samples, self._samples = self._samples, []
        return samples

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="backbeat-linkprobe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            peer = self._peer() if self.wanted else None
            rtt = self._measure(peer) if peer is not None else None
            self.handshakes += peer is not None
            if rtt is not None:
                with self._lock:
                    self._samples.append((self.clock.monotonic(), rtt))
