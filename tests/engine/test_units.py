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
