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
