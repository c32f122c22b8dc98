"""A restore's plan lives on disk: handed back one bounded pack job at a time, in pack order."""

import tracemalloc

import engine.local.restoreplan
from engine.local.restoreplan import RestorePlan
from engine.repo.tree import Kind, TreeEntry

PACK_A, PACK_B = b"\xaa" * 32, b"\x0b" * 32


def _file(name: bytes, size: int = 3) -> TreeEntry:
    return TreeEntry(name, Kind.FILE, 0o640, 1_700_000_000_123_456_789, size)


def test_places_come_pack_by_pack_in_offset_order_grouped_by_blob_in_bounded_jobs(monkeypatch):
    monkeypatch.setattr(engine.local.restoreplan, "PACK_JOB_PLACES", 3)
    shared = b"s" * 32
    expected = set()
    with RestorePlan() as plan:
        for i in range(5):  # five files that are one blob: more places than one job takes
            no = plan.add(b"/out/copy-%d" % i, _file(b"copy-%d" % i))
            plan.add_place(no, PACK_A, 500, shared, 0)
            expected.add((PACK_A, shared, no, 0))
        no = plan.add(b"/out/two", _file(b"two"))
        for pack, offset, blob, at in (
            (PACK_A, 900, b"x" * 32, 0),
            (PACK_B, 10, b"y" * 32, 7),
            (PACK_A, 100, b"z" * 32, 14),
        ):
            plan.add_place(no, pack, offset, blob, at)
            expected.add((pack, blob, no, at))
        jobs = list(plan.by_pack())
    got = [(pack, blob, p.file, p.at) for pack, blobs in jobs for blob, places in blobs for p in places]
    assert len(got) == len(expected) and set(got) == expected
    assert all(sum(len(places) for _, places in blobs) <= 3 for _, blobs in jobs)
    assert [pack for pack, _ in jobs] == sorted(pack for pack, _ in jobs)  # one pack's jobs follow each other
    in_a = [blob for pack, blobs in jobs if pack == PACK_A for blob, _ in blobs]
    assert [b for i, b in enumerate(in_a) if i == 0 or b != in_a[i - 1]] == [b"z" * 32, shared, b"x" * 32]
    assert all(len({blob for blob, _ in blobs}) == len(blobs) for _, blobs in jobs)  # a blob once per job


def test_metadata_reads_back_and_folders_come_deepest_first():
    with RestorePlan() as plan:
        plan.add(b"/out/a", TreeEntry(b"a", Kind.DIR, 0o555, 5))
        plan.add(b"/out/a/b/c", TreeEntry(b"c", Kind.DIR, 0o700, 6))
        plan.add(b"/out/a/b", TreeEntry(b"b", Kind.DIR, 0o750, 7))
        plan.add(b"/out/a/f", TreeEntry(b"f", Kind.FILE, 0o604, 8, 12, xattrs=((b"user.tag", b"\x00red"),)))
        assert [p for _, p, _ in plan.entries(Kind.DIR, deepest_first=True)] == [b"/out/a/b/c", b"/out/a/b", b"/out/a"]
        [(no, path, f)] = plan.entries(Kind.FILE)
        assert (no, path, f.mode, f.mtime_ns, f.size, f.xattrs) == (
            3,
            b"/out/a/f",
            0o604,
            8,
            12,
            ((b"user.tag", b"\x00red"),),
        )
        assert (plan.files, plan.dirs, plan.links) == (1, 3, 0)


def test_a_plan_of_40000_files_is_not_held_in_memory():
    """In memory, this plan cost ~1 KB a file (40 MiB here); on disk, what it buffers and one job."""
    tracemalloc.start()
    try:
        with RestorePlan() as plan:
            for i in range(40_000):
                no = plan.add(b"/restore/target/some/folder/file-%08d.txt" % i, _file(b"file-%08d.txt" % i))
                plan.add_place(no, PACK_A if i % 2 else PACK_B, i, i.to_bytes(32, "big"), 0)
            jobs = places = 0
            for _, blobs in plan.by_pack():
                jobs += 1
                places += sum(len(p) for _, p in blobs)
            files = sum(1 for _ in plan.entries(Kind.FILE))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (places, files) == (40_000, 40_000) and jobs >= 40_000 // engine.local.restoreplan.PACK_JOB_PLACES
    assert peak < 12 << 20, f"{peak >> 20} MiB"
