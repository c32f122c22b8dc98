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
        asked = [4, 5, 1, 3000]
        assert sorted(work.paths_and_records(asked)) == sorted((b"/home/f%d" % no, records[no]) for no in asked)
    finally:
        work.close()
