import pytest

from engine.base.units import format_bytes, format_duration, parse_size


def test_sizes():
    assert parse_size("512k") == 512 * 1024
    assert parse_size("1.5M") == 3 * 512 * 1024
    assert parse_size("2GiB") == 2 << 30
    assert format_bytes(0) == "0 B"
    assert format_bytes(4.2 * (1 << 30)) == "4.2 GB"
    with pytest.raises(ValueError):
        parse_size("fast")


def test_durations():
    assert format_duration(42) == "42 s"
    assert format_duration(3 * 3600 + 600) == "3 h 10 min"
    assert format_duration(2 * 86400 + 7200) == "2 d 2 h"


def test_dates_are_said_as_a_person_says_them():
    from datetime import datetime

    from engine.base.units import format_when

    now = datetime(2026, 12, 3, 15, 30)  # a Thursday
    assert format_when(datetime(2026, 12, 3, 14, 2), now) == "today 14:02"
    assert format_when(datetime(2026, 12, 2, 9, 10), now) == "yesterday 09:10"
    assert format_when(datetime(2026, 11, 30, 8, 0), now) == "Monday 08:00"
    assert format_when(datetime(2026, 11, 26, 8, 0), now) == "26 November 08:00"  # a week ago: the date
    assert format_when(datetime(2025, 3, 3, 8, 0), now) == "3 March 2025"
