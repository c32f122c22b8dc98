from datetime import datetime

import pytest

from engine.base.errors import BadSchedule
from engine.config.bandwidth import parse_timetable

K = 1024
MON, FRI, SAT, SUN = 16, 20, 21, 22  # days of November 2026


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, day, hh, mm)


@pytest.mark.parametrize(
    "schedule, when, expected",
    [
        ("512k", at(MON, 3), 512 * K),
        ("off", at(SAT, 12), None),
        ("08:00,512k 23:00,off", at(MON, 7, 59), None),  # before 08:00: the 23:00 entry, from the night before
        ("08:00,512k 23:00,off", at(MON, 8), 512 * K),
        ("08:00,512k 23:00,off", at(SAT, 22, 59), 512 * K),
        ("Mon-Fri 08:00,512k 18:00,256k 23:00,off", at(FRI, 19), 256 * K),
        ("Mon-Fri 08:00,512k 18:00,256k 23:00,off", at(SAT, 9), None),  # the weekend keeps Friday's last
        ("Mon-Fri 08:00,512k 18:00,256k 23:00,off", at(MON, 7), None),  # wraps from Sunday to Monday
        ("Mon-Fri 08:00,512k 18:00,256k 23:00,off Sat-Sun 10:00,1M", at(SUN, 11), 1 << 20),
        ("Sat-10:00,1.5M Sun-20:00,off", at(SUN, 19, 59), 1.5 * (1 << 20)),
        ("Sat-10:00,1.5M Sun-20:00,off", at(MON, 12), None),
        ("Fri-Mon 22:00,128k 06:00,off", at(SUN, 23), 128 * K),  # a day range across the weekend
        ("Fri-Mon 22:00,128k 06:00,off", at(SUN, 7), None),
    ],
)
def test_timetable(schedule, when, expected):
    assert parse_timetable(schedule).limit_at(when) == expected


@pytest.mark.parametrize(
    "schedule, pointer",
    [
        ("Mon-Fri 8h,512k", "entry 2: '8h,512k'"),
        ("08:00,512k 25:00,off", "entry 2: '25:00,off'"),
        ("08:00,fast", "'fast' in entry 1"),
        ("Funday 08:00,1M", "entry 1: 'Funday'"),
        ("Mon-Fri", "no times"),
    ],
)
def test_malformed_schedules_point_at_the_bad_token(schedule, pointer):
    with pytest.raises(BadSchedule) as err:
        parse_timetable(schedule)
    assert pointer in str(err.value) and err.value.hint


def test_policies_from_what_a_user_types():
    from engine.config.bandwidth import BandwidthPolicy, parse_policy

    assert parse_policy("off") == BandwidthPolicy("unlimited")
    assert parse_policy("auto") == BandwidthPolicy("automatic")
    assert parse_policy("512k") == BandwidthPolicy("fixed", 512 * 1024)
    sched = parse_policy("Mon-Fri  08:00,512k 18:00,256k 23:00,off")
    assert sched.mode == "schedule" and sched.schedule == "Mon-Fri 08:00,512k 18:00,256k 23:00,off"
    assert [p.describe() for p in (parse_policy("off"), parse_policy("512k"), parse_policy("auto"))] == [
        "Unlimited",
        "Limit to 512 KB/s",
        "Keep my internet usable (automatic)",
    ]
    assert BandwidthPolicy.from_json({"mode": "nonsense"}) == BandwidthPolicy()  # a damaged setting: the default


def test_the_schedule_says_until_when_an_entry_holds():
    from datetime import datetime

    table = parse_timetable("Mon-Fri 08:00,512k 18:00,256k 23:00,off")
    assert table.describe_at(datetime(2026, 11, 23, 19, 0)) == "256 KB/s until 23:00"  # a Monday evening
    assert table.describe_at(datetime(2026, 11, 27, 23, 30)) == "unlimited until Mon 08:00"  # Friday night
    assert table.describe_at(datetime(2026, 11, 24, 7, 0)) == "unlimited until 08:00"
    assert parse_timetable("512k").describe_at(datetime(2026, 11, 24, 7, 0)) == "512 KB/s"


@pytest.mark.parametrize(
    "typed, rows_text",
    [
        ("Mon-Fri 08:00,512k 18:00,256k 23:00,off", "Mon-Fri 08:00,512k 18:00,256k 23:00,off"),
        ("monday-friday 08:00,1M", "Mon-Fri 08:00,1024k"),
        ("Mon-Fri 08:00,512k Mon-Sun 20:00,off", "Mon-Fri 08:00,512k Mon-Sun 20:00,off"),
        ("Fri-Mon 10:00,2M", "Fri-Mon 10:00,2048k"),
        ("512k", "00:00,512k"),
    ],
)
def test_a_schedule_as_an_editors_rows_reads_back_to_the_same_limits(typed, rows_text):
    from engine.config.bandwidth import schedule_rows, schedule_text

    rows = schedule_rows(typed)
    assert schedule_text(rows) == rows_text
    assert schedule_rows(rows_text) == rows
    for when in (datetime(2026, 12, d, h, 30) for d in range(7, 14) for h in (0, 9, 19, 21, 23)):
        assert parse_timetable(rows_text).limit_at(when) == parse_timetable(typed).limit_at(when)


def test_schedule_rows_refuse_what_the_engine_refuses():
    from engine.config.bandwidth import schedule_rows

    assert schedule_rows("") == []
    with pytest.raises(BadSchedule):
        schedule_rows("Mon-Fri 8h,512k")
