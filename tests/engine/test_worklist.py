"""The work list keeps the records the files cache vouched for, so the trees never read the cache again."""

import os

from engine.config.priority import PrioritySettings
from engine.local.worklist import WorkList


def test_vouched_records_come_back_in_order_whole_and_as_often_as_asked():
    """A big file's record holds 32 bytes a chunk (a 20 GB film: hundreds of KiB), so records
    cross the file's 64 KiB blocks and exceed two bytes of length."""
    sizes = [40, 70_000, 3, 400_000, 65_535, 65_536, 1] + [100] * 2000
    kept = [(no * 2, os.urandom(size)) for no, size in enumerate(sizes)]
    work = WorkList(PrioritySettings(), 0)
    try:
        for no, record in kept:
            work.keep(no, record)
        work.seal()
        assert list(work.kept()) == kept
        assert list(work.kept()) == kept  # a checkpoint read them before the final trees
    finally:
        work.close()


def test_read_records_come_back_in_spool_order_whole_whatever_order_they_were_read_in():
    """Records go to a file in reading order (priority order, not the spool's); a big file's record
    is longer than the first read of one (512 bytes)."""
    sizes = [40, 508, 509, 512, 70_000, 0, 3] + [100] * 3000
    records = {no: os.urandom(size) for no, size in enumerate(sizes)}
    work = WorkList(PrioritySettings(), 0)
    try:
        for no in records:
            work.add(no, b"/home/f%d" % no, len(records[no]), 0, None)
        work.seal()
        reading_order = [f.no for f in work.order()]
        assert reading_order != sorted(reading_order)
        half = len(reading_order) // 2
        for no in reading_order[:half]:
            work.done(no, records[no])
        work.flush()
        assert list(work.records()) == sorted((no, records[no]) for no in reading_order[:half])  # a checkpoint
        for no in reading_order[half:]:
            work.done(no, records[no])
        assert len(list(work.records())) < len(records)  # what is not flushed yet is not given
        work.flush()
        assert list(work.records()) == sorted(records.items())
    finally:
        work.close()


def test_files_to_remember_come_back_in_the_order_given_with_paths_records_and_sureness_whole():
    """A pass of the trees hands over each file the cache may vouch for with the path and record it
    holds; rows cross the file's 64 KiB blocks, and a path may be longer than 64 KiB."""
    sizes = [0, 40, 70_000, 3, 400_000, 65_536] + [100] * 2000
    rows = [
        (no * 3, b"/home/" + b"d/" * (no % 7) * (40_000 if no == 5 else 1) + b"f%d" % no, os.urandom(size), no % 5 != 2)
        for no, size in enumerate(sizes)
    ]
    work = WorkList(PrioritySettings(), 0)
    try:
        vouched = work.vouched()
        for no, path, record, sure in rows:
            vouched.add(no, path, record, sure=sure)
        assert vouched.top == rows[-1][0]
        assert list(vouched) == rows
    finally:
        work.close()
    assert vouched.closed  # with the work list, if the run did not close it (it failed before remembering)
