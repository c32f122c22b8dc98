"""Bytes to upload, rate, and a finish time that follows the schedule."""

import os
import random
import tracemalloc
from datetime import datetime

import pytest

from engine.config.bandwidth import parse_timetable
from engine.config.priority import kind_of
from engine.meter.forecast import Outlook, TailEstimate, UploadForecast, finish_in, sample_ratios
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


def test_the_forecast_counts_each_kind_at_its_own_ratio_and_averages_the_rate():
    clock = ManualClock()
    # 20 MiB of documents that seal to a quarter, then 80 MiB of film that does not compress
    files = [(b"a.docx", 20 << 20), (b"b.mov", 80 << 20)]
    tail = TailEstimate(files, lambda path: 0.25 if path.endswith(b".docx") else 1.0)
    assert (
        tail.total == (5 << 20) + (80 << 20)
        and tail(80 << 20) == 80 << 20
        and tail(90 << 20) == (80 << 20) + 2.5 * (1 << 20)
    )
    f = UploadForecast(clock, tail, to_read=100 << 20)
    assert f.total == 85 << 20  # before anything is read: the samples' guess
    # the documents are done and sealed to 6 MiB, not 5: the rest is thought 20% bigger too
    f.update(accounted=20 << 20, packed=6 << 20, sent=0, limit=None)
    assert f.total == (6 << 20) + 96 * (1 << 20)
    for second in range(1, 61):
        clock.sleep(1)
        f.update(accounted=20 << 20, packed=6 << 20, sent=second * 100 * KB, limit=None)
    assert f.rate == pytest.approx(100 * KB)
    assert f.eta(Outlook(None), MONDAY_9) == pytest.approx((f.total - f.sent) / (100 * KB))


def test_the_tail_is_kept_at_a_few_thousand_points_and_stays_within_a_thousandth():
    rnd = random.Random(3)
    files = [
        (b"f%d.%s" % (i, rnd.choice((b"docx", b"mov", b"jpg"))), rnd.randrange(1, 1 << 20)) for i in range(100_000)
    ]
    ratios = {"document": 0.25, "media": 1.0, "photo": 0.9}
    ratio_of = lambda path: ratios[kind_of(path)]  # noqa: E731
    tracemalloc.start()
    tail = TailEstimate(files, ratio_of)
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert held < 1 << 20  # a point per file: ~7 MB here, ~70 MB at a million files
    exact = TailEstimate(files, ratio_of, points=len(files))
    assert tail.total == pytest.approx(exact.total)
    for n in (rnd.randrange(sum(size for _, size in files)) for _ in range(200)):
        assert abs(tail(n) - exact(n)) <= exact.total / 1000


def test_the_samples_seal_real_pieces_per_kind(tmp_path):
    import zstandard

    text, noise = tmp_path / "a.txt", tmp_path / "b.mov"
    text.write_bytes(b"hello world\n" * 100_000)
    noise.write_bytes(os.urandom(1 << 20))
    seal = lambda piece: len(zstandard.ZstdCompressor(level=3).compress(piece))  # noqa: E731
    ratio = sample_ratios([(bytes(text), 1_200_000), (bytes(noise), 1 << 20)], seal, kind_of)
    assert ratio(b"other.txt") < 0.05 and ratio(b"film.mov") > 0.99
    assert 0.4 < ratio(b"photo.jpg") < 0.6  # a kind not sampled: all samples together
    assert sample_ratios([(b"/no/such/file", 10)], seal, kind_of)(b"x.txt") == 1.0


def test_after_an_interrupted_upload_what_was_found_stored_is_not_taken_to_go_on():
    """The files read first are those the interrupted run sent: found stored, nothing packed. The
    rest is still all to send (the estimate was a fifth of the truth when dedup was extrapolated)."""
    files = [(f"f{i}.mov".encode(), 10 << 20) for i in range(10)]
    f = UploadForecast(ManualClock(), TailEstimate(files, lambda path: 1.0), to_read=100 << 20)
    f.update(accounted=60 << 20, packed=0, sent=0, limit=None, deduped=60 << 20)
    assert f.total == 40 << 20
    f.update(accounted=80 << 20, packed=20 << 20, sent=0, limit=None, deduped=60 << 20)
    assert f.total == 40 << 20
