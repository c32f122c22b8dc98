"""The retention policy as tables: which snapshots stay and why, across DST changes and year ends."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engine.config.retention import RetentionPolicy
from engine.jobs.keep import evaluate
from engine.repo.snapshot import Snapshot

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
NONE = dict(last=1, hourly=0, daily=0, weekly=0, monthly=0, yearly=0, deleted_days=0)


def snap(when: str, tz=BERLIN, computer="c1", paths=("/Users/al",), checkpoint=False, fold=0) -> Snapshot:
    t = datetime.fromisoformat(when).replace(tzinfo=tz, fold=fold)
    return Snapshot(
        time_ns=int(t.timestamp() * 1e9),
        host="mac",
        computer_id=computer,
        base="/Users",
        paths=list(paths),
        tree="00" * 32,
        checkpoint=checkpoint,
        id=f"{computer}-{when}-{fold}-{checkpoint}",
    )


def kept(snaps, tz=BERLIN, pins=None, **rules):
    decisions = evaluate(snaps, RetentionPolicy(**(NONE | rules)), tz, pins)
    return {d.snapshot.id: d.reasons for d in decisions if d.keep}


def ids(*snaps):
    return {s.id for s in snaps}


def test_hourly_counts_each_real_hour_when_clocks_go_back():
    # 2026-10-25 in Berlin: 02:00-03:00 happens twice (CEST, then CET)
    first = snap("2026-10-25T02:30", fold=0)
    second = snap("2026-10-25T02:45", fold=1)  # an hour and a quarter later in real time
    earlier_same_hour = snap("2026-10-25T02:10", fold=1)
    before = snap("2026-10-25T01:30")
    result = kept([before, first, earlier_same_hour, second], hourly=3, last=1)
    assert set(result) == ids(second, first, before)
    assert result[second.id] == ("latest", "hourly")
    assert result[first.id] == ("hourly",)


def test_daily_keeps_the_newest_of_a_short_day_when_clocks_go_forward():
    # 2026-03-29 in Berlin has 23 hours (02:00 -> 03:00)
    s = [snap("2026-03-28T23:30"), snap("2026-03-29T01:30"), snap("2026-03-29T03:30"), snap("2026-03-30T00:10")]
    assert set(kept(s, daily=3)) == ids(s[0], s[2], s[3])


def test_weeks_are_iso_weeks_and_years_split_them_at_new_year():
    sun = snap("2026-12-27T12:00")  # ISO 2026-W52
    thu = snap("2026-12-31T12:00")  # ISO 2026-W53
    sat = snap("2027-01-02T12:00")  # still ISO 2026-W53, but the year 2027
    result = kept([sun, thu, sat], weekly=5)
    assert set(result) == ids(sat, sun)  # one per week: Thursday shares Saturday's week
    result = kept([sun, thu, sat], yearly=5)
    assert set(result) == ids(sat, thu)  # one per year: the newest of 2026 is New Year's Eve
    assert result[thu.id] == ("yearly",)


def test_year_end_in_another_zone_moves_the_boundary():
    s = snap("2026-12-31T23:30", tz=UTC)  # already 2027 in Berlin
    t = snap("2026-12-31T20:00", tz=UTC)
    assert set(kept([s, t], yearly=2, tz=BERLIN)) == ids(s, t)
    assert set(kept([s, t], yearly=2, tz=UTC)) == ids(s)


def test_counts_are_periods_that_have_a_backup():
    """A laptop off for weeks still keeps N daily versions: gaps do not use up the count."""
    s = [snap("2026-01-01T10:00"), snap("2026-01-02T10:00"), snap("2026-02-20T10:00"), snap("2026-02-20T18:00")]
    assert set(kept(s, daily=3)) == ids(s[3], s[1], s[0])
    assert set(kept(s, monthly=1)) == ids(s[3])
    assert set(kept(s, monthly=2)) == ids(s[3], s[1])


def test_last_always_keeps_at_least_the_newest():
    s = [snap("2026-05-01T10:00"), snap("2026-05-02T10:00")]
    assert set(kept(s, last=0)) == ids(s[1])
    assert set(kept(s, last=5)) == ids(*s)


def test_defaults_keep_24_hours_with_a_backup_then_one_a_day():
    s = [snap(f"2026-06-{d:02d}T{h:02d}:00") for d in range(1, 31) for h in (9, 13, 17)]
    result = evaluate(s, RetentionPolicy(), BERLIN)
    keep = {d.snapshot.id for d in result if d.keep}
    # three backups a day: the 24 hours with a backup span the last 8 days, then one a day for 22 more
    assert len(keep) == 24 + 22
    assert snap("2026-06-23T09:00").id in keep and snap("2026-06-22T09:00").id not in keep
    assert snap("2026-06-22T17:00").id in keep
    assert all(d.reasons for d in result)


def test_checkpoints_are_never_versions():
    done = snap("2026-05-01T10:00")
    old_checkpoint = snap("2026-05-01T09:00", checkpoint=True)
    running = snap("2026-05-01T12:00", checkpoint=True)
    newer_running = snap("2026-05-01T13:00", checkpoint=True)
    decisions = {d.snapshot.id: d for d in evaluate([done, old_checkpoint, running, newer_running], RetentionPolicy())}
    assert decisions[done.id].keep
    assert not decisions[old_checkpoint.id].keep and "complete backup" in decisions[old_checkpoint.id].reasons[0]
    assert decisions[newer_running.id].keep and "not finished" in decisions[newer_running.id].reasons[0]
    assert not decisions[running.id].keep and "newer checkpoint" in decisions[running.id].reasons[0]
    # a checkpoint alone (a first upload still going) stays
    assert kept([running]) == {running.id: ("checkpoint of a backup not finished yet",)}


def test_each_computer_and_selection_is_its_own_group():
    a = [snap("2026-05-01T10:00", computer="a"), snap("2026-05-02T10:00", computer="a")]
    b = [snap("2026-04-01T10:00", computer="b")]
    photos = [snap("2026-03-01T10:00", computer="a", paths=("/Users/al/Pictures",))]
    assert set(kept(a + b + photos)) == ids(a[1], b[0], photos[0])


def test_pins_keep_a_snapshot_and_say_why():
    s = [snap("2026-05-01T10:00"), snap("2026-05-02T10:00")]
    result = kept(s, pins={s[0].id: "last copy of 2 deleted files (kept until 2026-07-31)"})
    assert result[s[0].id] == ("last copy of 2 deleted files (kept until 2026-07-31)",)


def test_policy_in_plain_words_and_from_settings():
    assert RetentionPolicy().describe() == (
        "Keeps the latest backup, one an hour for the last 24 hours with a backup, one a day for the last 30 days "
        "with a backup, one a week for the last 52 weeks with a backup, one a month for the last 24 months with a "
        "backup and one a year for the last 10 years with a backup. Deleted files stay restorable for 90 days."
    )
    assert RetentionPolicy(**NONE).describe() == "Keeps the latest backup."
    p = RetentionPolicy.from_json({"daily": 7, "weekly": "x", "monthly": -1, "bogus": 1})
    assert (p.daily, p.weekly, p.monthly) == (7, 52, 24)
    assert RetentionPolicy.from_json(p.to_json()) == p
    with pytest.raises(ValueError):
        RetentionPolicy(daily=-1)
