"""The pacer: what is in force and why, from the settings, a pause, the battery and the automatic controller."""

import time
from datetime import datetime

import pytest

from engine import platform
from engine.backends.ratelimit import TokenBucket
from engine.config.bandwidth import BandwidthPolicy
from engine.config.settings import Settings, save_settings
from engine.meter import control
from engine.meter.pacing import Pacer
from engine.platform.linux import LinuxPlatform
from tests.manual_clock import ManualClock


class Probe:
    """Samples handed in by the test instead of handshakes."""

    def __init__(self):
        self.samples = []
        self.wanted = False
        self.handshakes = 0

    def take(self):
        out, self.samples = self.samples, []
        return out

    def start(self):
        pass

    def stop(self):
        pass


MONDAY_19H = datetime(2026, 11, 23, 19, 0).timestamp()


def pacer(settings: Settings, battery=False, wall=MONDAY_19H):
    save_settings(settings)
    clock = ManualClock(wall=wall)
    bucket = TokenBucket(None, clock)
    return Pacer(bucket, clock, probe=Probe(), battery=lambda: battery, publish=False), bucket, clock


def test_fixed_and_unlimited_reach_the_bucket():
    p, bucket, _ = pacer(Settings(BandwidthPolicy("fixed", 64 * 1024)))
    d = p.step()
    assert bucket.rate == 64 * 1024 and d.reason == "fixed limit: 64.0 KB/s"
    save_settings(Settings(BandwidthPolicy("unlimited")))
    assert p.step().reason == "unlimited" and bucket.rate is None  # a new setting applies to a running job


def test_schedule_says_which_entry_is_in_force_and_until_when():
    p, bucket, _ = pacer(Settings(BandwidthPolicy("schedule", schedule="Mon-Fri 08:00,512k 18:00,256k 23:00,off")))
    d = p.step()
    assert bucket.rate == 256 * 1024
    assert d.reason == "schedule: 256 KB/s until 23:00"


def test_a_pause_from_another_process_stops_the_bucket_at_the_next_step_and_resume_restarts_it():
    p, bucket, clock = pacer(Settings(BandwidthPolicy("fixed", 100_000)))
    p.step()
    control.pause(None, clock)
    d = p.step()
    assert bucket.rate == 0 and d.reason == "paused by you"
    control.resume()
    assert p.step().rate == 100_000 and bucket.rate == 100_000


def test_a_timed_pause_ends_by_itself():
    p, bucket, clock = pacer(Settings(BandwidthPolicy("unlimited")))
    control.pause(3600, clock)
    assert p.step().reason.startswith("paused by you until ")
    clock.wall_time += 3601
    assert p.step().rate is None


def test_battery_pauses_only_when_the_setting_is_on():
    p, bucket, _ = pacer(Settings(BandwidthPolicy("unlimited"), pause_on_battery=False), battery=True)
    assert p.step().rate is None
    p, bucket, _ = pacer(Settings(BandwidthPolicy("unlimited"), pause_on_battery=True), battery=True)
    d = p.step()
    assert bucket.rate == 0 and "battery" in d.reason


def test_a_limit_for_this_run_overrides_the_policy_but_not_a_pause():
    p, bucket, clock = pacer(Settings(BandwidthPolicy("automatic")))
    p.override = 50_000
    assert p.step().reason == "limit for this run: 48.8 KB/s"
    control.pause(None, clock)
    assert p.step().rate == 0


def test_automatic_follows_the_link_delay_and_says_so():
    p, bucket, clock = pacer(Settings(BandwidthPolicy("automatic")))
    with p.running():
        p.probe.samples = [(clock.now, 0.020)]
        d = p.step()
        assert p.probe.wanted
        assert d.reason.startswith("automatic: ") and "link delay +0 ms" in d.reason
        start = d.rate
        clock.now += 1
        p.probe.samples = [(clock.now, 0.120)]  # 100 ms of queue: cut
        d = p.step()
        assert d.rate < start and "link delay +100 ms" in d.reason
        assert bucket.rate == pytest.approx(d.rate)
        assert p.status().line == pytest.approx(start)  # the queue appeared at that rate: about the line's
        p.override = 64 * 1024
        p.step()
        assert p.status().line is None  # a limit the user set for this run: nothing found to say
        p.override = None
    assert p.status().reason == "automatic: finds the line's speed while uploading"
    assert p.status().line is None


def wait_for(condition, timeout: float) -> float | None:
    """Seconds until `condition()` held, or None if it did not within `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.01)
    return None


def test_the_pacer_thread_applies_a_pause_within_a_second_and_publishes_it():
    bucket = TokenBucket(None)
    p = Pacer(bucket, probe=Probe(), publish=True)
    save_settings(Settings(BandwidthPolicy("fixed", 1_000_000)))
    with p.running():
        assert wait_for(lambda: (control.read_activity() or {}).get("reason") == "fixed limit: 977 KB/s", 2)
        control.pause()
        took = wait_for(lambda: bucket.rate == 0, 2)
        assert took is not None and took < 1.0
        assert wait_for(lambda: (control.read_activity() or {}).get("reason") == "paused by you", 2)
    assert control.read_activity() is None  # the job is over: nothing stale is shown


class _OnAHotspot(LinuxPlatform):
    """A Mac on an iPhone's hotspot in Low Power Mode, as Network.framework and NSProcessInfo say it
    (tests/platform/test_darwin.py asks the real ones on a Mac)."""

    def __init__(self) -> None:
        super().__init__()
        self.metered: str | None = "on a metered network (a phone's hotspot or a cellular link)"
        self.low_power = True

    def metered_network(self) -> str | None:
        return self.metered

    def low_power_mode(self) -> bool:
        return self.low_power


def test_a_metered_network_pauses_uploads_by_default_and_says_why():
    system = _OnAHotspot()
    with platform.use(system):
        p, bucket, clock = pacer(Settings(BandwidthPolicy("unlimited")))
        d = p.step()
        assert bucket.rate == 0 and d.reason == "paused: on a metered network (a phone's hotspot or a cellular link)"
        system.metered = None  # back on the home Wi-Fi
        clock.now += 10
        assert p.step().rate is None
        system.metered = "on a network in Low Data Mode"
        save_settings(Settings(BandwidthPolicy("unlimited"), pause_on_metered=False))  # the user says go on
        assert p.step().rate is None


class _OnWifi(LinuxPlatform):
    """A computer on a Wi-Fi network of that name, as CoreWLAN or NetworkManager says it."""

    def __init__(self, name: str | None) -> None:
        super().__init__()
        self.name = name
        self.asked = 0

    def wifi_name(self) -> str | None:
        self.asked += 1
        return self.name


def test_a_wifi_the_user_listed_pauses_uploads_and_says_which():
    system = _OnWifi("Café Lumière")
    with platform.use(system):
        p, bucket, clock = pacer(Settings(BandwidthPolicy("unlimited")))
        assert p.step().rate is None and system.asked == 0  # no list: the network is not even asked
        save_settings(Settings(BandwidthPolicy("unlimited"), never_upload_on_wifi=("Café Lumière", "Train")))
        clock.now += 10
        d = p.step()
        assert (
            bucket.rate == 0 and d.reason == "paused: on the Wi-Fi “Café Lumière”, which you chose never to upload on"
        )
        system.name = "Home"  # back home: uploads go on at the next look at the network
        clock.now += 10
        assert p.step().rate is None
        system.name = None  # not on Wi-Fi (a cable), or a Mac that will not say
        clock.now += 10
        assert p.step().rate is None


def test_low_power_mode_pauses_as_battery_does():
    with platform.use(_OnAHotspot()) as system:
        system.metered = None
        p, bucket, _ = pacer(Settings(BandwidthPolicy("unlimited"), pause_on_battery=False))
        assert p.step().rate is None
        p, bucket, _ = pacer(Settings(BandwidthPolicy("unlimited"), pause_on_battery=True))
        assert p.step().reason == "paused: the computer is in Low Power Mode" and bucket.rate == 0


@pytest.mark.parametrize(
    ("location", "local"),
    [
        ("s3:http://127.0.0.1:9000/bucket/repo", True),  # this computer
        ("s3:http://localhost:9000/bucket", True),  # a name, resolved (from /etc/hosts, no traffic)
        ("s3:http://192.168.1.5:9000/bucket", True),  # a NAS at home
        ("s3:http://10.0.0.7/bucket", True),
        ("s3:http://[fe80::1]:9000/bucket", True),  # link-local
        ("s3:http://[fd12:3456::2]/bucket", True),  # unique local
        ("s3:http://198.18.0.2:9000/bucket", False),  # across a line (the household harness's server)
        ("s3:http://100.64.1.1/bucket", False),  # the provider's shared range: the far side of the modem
        ("s3:http://203.0.113.9/bucket", False),  # a public address
        ("s3://bucket/repo", False),  # Amazon S3
        ("/Volumes/Backup", False),  # a disk is never paced at all
    ],
)
def test_which_destinations_are_on_the_local_network(location, local):
    from engine.meter.nearby import on_local_network

    assert on_local_network(location) is local


def test_automatic_leaves_a_destination_on_the_local_network_unlimited_and_says_why():
    """A NAS needs no sparing of the household line: no limit, no probing; the user's own limit still holds."""
    p, bucket, clock = pacer(Settings())
    with p.running(nearby=True):
        d = p.step()
        assert d.rate is None and d.reason == "automatic: no limit, the destination is on your local network"
        assert not p.probe.wanted and p.status().line is None
        p.override = 100_000
        assert p.step().rate == 100_000
    with p.running(nearby=False):  # the next job, to the cloud: the controller steers again
        p.override = None
        p.probe.samples = [(clock.now, 0.020)]
        assert p.step().rate is not None and p.probe.wanted
