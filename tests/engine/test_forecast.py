"""Bytes to upload, rate, and a finish time that follows the schedule."""

import os
from datetime import datetime

import pytest

from engine.bandwidth import parse_timetable
from engine.forecast import Outlook, UploadForecast, finish_in, sample_ratio
from tests.manual_clock import ManualClock

MONDAY_9 = datetime(2026, 11, 23, 9, 0)  # a Monday
KB = 1024


def test_without_a_schedule_the_finish_is_what_is_left_over_the_rate():
    assert finish_in(1000 * KB, 100 * KB, Outlook(100 * KB), MONDAY_9, 100 * KB) == 10.0
    assert finish_in(0, 0, Outlook(None), MONDAY_9, 0) == 0.0
    assert finish_in(1000, 100, Outlook(0), MONDAY_9, 100) is None  # paused: no finish time
    assert finish_in(1000, 0, Outlook(None), MONDAY_9, 0) is None  # nothing measured yet


def test_a_schedule_counts_the_fast_nights():
    table = parse_timetable("08:00,100k 23:00,off")  # 100 KB/s by day, unlimited at night
    # 10 h at 100 KB/s until 23:00 = 3.6 GB... here 14 h of day (09:00-23:00) carry 5,040,000 KB
    day = 14 * 3600 * 100 * KB
    # the line was seen to carry 400 KB/s: the night goes at that; 1 h of night after the day
    got = finish_in(day + 3600 * 400 * KB, 100 * KB, Outlook(100 * KB, table), MONDAY_9, 400 * KB)
    assert got == pytest.approx(15 * 3600)
    # were it all at the day's rate, it would say 14 h + 4 h
    assert finish_in(day + 3600 * 400 * KB, 100 * KB, Outlook(100 * KB), MONDAY_9, 400 * KB) == pytest.approx(18 * 3600)


def test_a_schedule_spanning_the_week_wraps_around():
    table = parse_timetable("Mon-Fri 08:00,100k 18:00,200k Sat-Sun 00:00,300k")
    # Friday 17:00: one hour at 100 KB/s, then 200 KB/s until Saturday 00:00 (6 h), then 300 KB/s
    friday = datetime(2026, 11, 27, 17, 0)
    want = 3600 * 100 * KB + 6 * 3600 * 200 * KB + 3600 * 300 * KB
    assert finish_in(want, 1, Outlook(100 * KB, table), friday, 10_000 * KB) == pytest.approx(8 * 3600)


def test_the_forecast_refines_the_total_and_averages_the_rate():
    clock = ManualClock()
    f = UploadForecast(clock, to_read=100 << 20, ratio=0.5)
    assert f.total == 50 << 20  # before anything is read: the sample's guess
    f.update(accounted=20 << 20, packed=16 << 20, sent=0, limit=None)  # it compresses less than the sample said
    assert f.total == (16 << 20) + (80 << 20) * 0.8
    for second in range(1, 61):
        clock.sleep(1)
        f.update(accounted=20 << 20, packed=16 << 20, sent=second * 100 * KB, limit=None)
    assert f.rate == pytest.approx(100 * KB)
    assert f.eta(Outlook(None), MONDAY_9) == pytest.approx((f.total - f.sent) / (100 * KB))


def test_the_sample_ratio_seals_real_pieces(tmp_path):
    text, noise = tmp_path / "a.txt", tmp_path / "b.bin"
    text.write_bytes(b"hello world\n" * 100_000)
    noise.write_bytes(os.urandom(1 << 20))
    import zstandard

    seal = lambda piece: len(zstandard.ZstdCompressor(level=3).compress(piece))  # noqa: E731
    assert sample_ratio([(bytes(text), 1_200_000)], seal) < 0.05
    assert sample_ratio([(bytes(noise), 1 << 20)], seal) > 0.99
    assert sample_ratio([(b"/no/such/file", 10)], seal) == 1.0
