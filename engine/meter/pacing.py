"""Pacer: decides ten times a second how fast uploads may go, and tells the token bucket.

What is in force, first match wins: a pause the user asked for (`engine.meter.control`), battery
power or Low Power Mode (when that setting is on), a metered network or one in Low Data Mode
(unless the user turned that off; `engine.platform` tells), a Wi-Fi the user chose never to upload
on, a limit given for this run (`backup
--limit`), then the policy in the backup set's settings: unlimited, a fixed limit, the schedule's
entry for this moment, or the automatic controller (`engine.meter.delaycontrol`) fed with the
round-trip time of our own uploads (`engine.meter.linkrtt`); automatic leaves a destination on the
local network unlimited (`engine.meter.nearby`). Every decision carries its reason in plain words
("schedule: 256 KB/s until 23:00", "automatic: 118 KB/s, link delay +9 ms") and, with the measured
upload rate, is published for other processes once a second. Settings are re-read when their file
changes, so a new limit applies to a backup already under way.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

from engine.backends.ratelimit import TokenBucket
from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.units import format_rate
from engine.config.settings import load_settings, settings_path
from engine.meter.control import clear_activity, current_pause, publish_activity
from engine.meter.delaycontrol import DelayController
from engine.meter.forecast import Outlook
from engine.meter.linkrtt import EDGE, FAST, STEADY, LinkProbe
from engine.platform import current as platform

__all__ = ["Pacer", "Decision", "BandwidthStatus"]

STEP = 0.1
_PUBLISH_EVERY = 1.0
_MACHINE_EVERY = 10.0  # seconds between asking the system about power and the network
_RATE_WINDOW = 5.0  # seconds over which the shown upload rate is measured
_USED_WINDOW = 0.5  # seconds over which the controller sees what uploads used of their allowance
_RETUNE = 0.02  # the automatic rate is passed on when it moved by more than this share


@dataclass(frozen=True)
class Decision:
    #: bytes per second: None unlimited, 0 paused
    rate: float | None
    reason: str


@dataclass(frozen=True)
class BandwidthStatus:
    #: the user's choice, in the words of the settings page
    policy: str
    limit: float | None
    reason: str
    paused: bool
    #: bytes per second actually sent, over the last few seconds (0 when nothing runs)
    upload_rate: float
    #: about the line's speed, as the automatic limit found it while uploading (None: not known)
    line: float | None = None

    def to_json(self) -> dict:
        return asdict(self)


class Pacer:
    def __init__(
        self,
        bucket: TokenBucket,
        clock: Clock = SYSTEM_CLOCK,
        probe: LinkProbe | None = None,
        battery: Callable[[], bool] | None = None,
        publish: bool = True,
    ) -> None:
        self.bucket = bucket
        self.clock = clock
        self.override: float | None = None  # a limit for this run only
        self.probe = probe or LinkProbe(clock=clock)
        self._battery = battery or (lambda: platform().on_battery())
        self._publish = publish
        self._settings = load_settings()
        self._settings_stamp = self._stamp()
        self._controller: DelayController | None = None
        self._machine_hold: str | None = None  # why the machine's state holds uploads, or None
        self._machine_checked = float("-inf")
        self._sent: deque[tuple[float, int]] = deque()
        self.decision = Decision(None, "unlimited")
        #: the running upload's progress (bytes sent, to send, rate, finish), published with the rest
        self.upload: dict | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: the running job's destination is on this computer's own network
        self.nearby = False

    # -- deciding ------------------------------------------------------------------------------
    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = settings_path().stat()
            return st.st_mtime_ns, st.st_size
        except FileNotFoundError:
            return None

    def _reload_settings(self) -> None:
        stamp = self._stamp()
        if stamp != self._settings_stamp:
            self._settings_stamp = stamp
            self._settings = load_settings()
            self._machine_checked = float("-inf")  # a setting turned off lifts its hold at once

    def _held_by_machine(self, now: float) -> str | None:
        """Battery, Low Power Mode, a metered network, a Wi-Fi the user listed: asked every few
        seconds, not at each step."""
        if now - self._machine_checked >= _MACHINE_EVERY:
            self._machine_checked = now
            s, system, hold = self._settings, platform(), None
            if s.pause_on_battery and self._battery():
                hold = "paused: the computer is running on battery"
            elif s.pause_on_battery and system.low_power_mode():
                hold = "paused: the computer is in Low Power Mode"
            elif s.pause_on_metered and (metered := system.metered_network()):
                hold = f"paused: {metered}"
            elif s.never_upload_on_wifi and (wifi := system.wifi_name()) in s.never_upload_on_wifi:
                hold = f"paused: on the Wi-Fi “{wifi}”, which you chose never to upload on"
            self._machine_hold = hold
        return self._machine_hold

    def _rate_over(self, window: float) -> float:
        if len(self._sent) < 2:
            return 0.0
        t_end, s_end = self._sent[-1]
        for t, s in self._sent:
            if t_end - t <= window:
                return (s_end - s) / (t_end - t) if t_end > t else 0.0
        return 0.0

    def decide(self) -> Decision:
        now = self.clock.monotonic()
        self._sent.append((now, self.bucket.sent))
        while self._sent and now - self._sent[0][0] > _RATE_WINDOW:
            self._sent.popleft()
        paused = current_pause(self.clock)
        if paused is not None:
            until = f" until {datetime.fromtimestamp(paused.until):%H:%M}" if paused.until else ""
            return Decision(0, f"paused by you{until}")
        held = self._held_by_machine(now)
        if held is not None:
            return Decision(0, held)
        if self.override is not None:
            return Decision(self.override, f"limit for this run: {format_rate(self.override)}")
        policy = self._settings.bandwidth
        if policy.mode != "automatic":
            self._controller = None
        if policy.mode == "unlimited":
            return Decision(None, "unlimited")
        if policy.mode == "fixed":
            return Decision(policy.rate, f"fixed limit: {format_rate(policy.rate or 0)}")
        if policy.mode == "schedule":
            table, when = policy.timetable(), datetime.fromtimestamp(self.clock.wall())
            return Decision(table.limit_at(when), f"schedule: {table.describe_at(when)}")
        return self._automatic(now)

    def _automatic(self, now: float) -> Decision:
        if not self.active:
            return Decision(None, "automatic: finds the line's speed while uploading")
        if self.nearby:
            return Decision(None, "automatic: no limit, the destination is on your local network")
        if self._controller is None:
            self._controller = DelayController()
        for when, rtt in self.probe.take():
            self._controller.update(when, rtt, self._rate_over(_USED_WINDOW))
        c = self._controller
        if c.extra_delay is None:
            return Decision(c.rate, f"automatic: {format_rate(c.rate)}, finding the line's speed")
        return Decision(c.rate, f"automatic: {format_rate(c.rate)}, link delay +{c.extra_delay * 1000:.0f} ms")

    def step(self) -> Decision:
        """Decide, and pass the rate to the bucket when it changed (the bucket empties on a change)."""
        self._reload_settings()
        decision = self.decide()
        self.probe.wanted = self.active and self._controller is not None and decision.rate != 0
        if self._controller is not None:
            c = self._controller
            self.probe.interval = EDGE if c.at_edge else STEADY if c.steady else FAST
        old, new = self.bucket.rate, decision.rate
        if old is None or new is None or new == 0 or old == 0:
            changed = old != new
        else:
            changed = abs(new - old) > _RETUNE * old
        if changed:
            self.bucket.set_rate(new)
        self.decision = decision
        return decision

    def status(self) -> BandwidthStatus:
        if not self.active:
            self._reload_settings()  # asked between jobs: the settings may have changed since
        d = self.decision if self.active else self.decide()
        steering = self._settings.bandwidth.mode == "automatic" and self.override is None and bool(d.rate)
        line = self._controller.line if self.active and steering and self._controller is not None else None
        policy = self._settings.bandwidth.describe()
        return BandwidthStatus(policy, d.rate, d.reason, d.rate == 0, self.upload_rate, line)

    def sent(self) -> int:
        return self.bucket.sent

    def outlook(self) -> Outlook:
        """What governs the line from now on, for the upload's finish time."""
        policy = self._settings.bandwidth
        scheduled = policy.mode == "schedule" and self.override is None and self.decision.reason.startswith("schedule")
        return Outlook(self.decision.rate, policy.timetable() if scheduled else None, self.decision.reason)

    @property
    def active(self) -> bool:
        return self._thread is not None

    @property
    def upload_rate(self) -> float:
        return self._rate_over(_RATE_WINDOW) if self.active else 0.0

    # -- running -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def running(self, nearby: bool = False) -> Iterator[None]:
        """Pace uploads while the block runs (a network job); `nearby`: to a destination on this
        computer's own network (engine.meter.nearby), which the automatic limit leaves unlimited."""
        self.nearby = nearby
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="backbeat-pacer", daemon=True)
        self.step()
        self._thread.start()
        self.probe.start()
        try:
            yield
        finally:
            self.probe.stop()
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.upload = None
            if self._publish:
                clear_activity()

    def _run(self) -> None:
        last_publish = float("-inf")
        while not self._stop.wait(STEP):
            self.step()
            now = self.clock.monotonic()
            if self._publish and now - last_publish >= _PUBLISH_EVERY:
                last_publish = now
                doc = self.status().to_json() | {"sent": self.bucket.sent, "upload": self.upload}
                doc["link_probes"] = self.probe.handshakes
                publish_activity(doc, self.clock)
