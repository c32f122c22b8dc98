"""What a slow first upload sends first."""

from engine.config.priority import PrioritySettings, kind_of, score
from engine.local.spool import tree_key
from engine.local.worklist import WorkList

DAY = 86_400 * 10**9
NOW = 1_800_000_000 * 10**9
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30


def _files():
    return [
        (b"/home/Desktop/Installer.dmg", 4 * GIB, NOW - 300 * DAY),
        (b"/home/Desktop/clip.mov", 40 * MIB, NOW - 20 * DAY),
        (b"/home/Documents/old-report.pdf", 3 * MIB, NOW - 900 * DAY),
        (b"/home/Documents/letter.docx", 2 * MIB, NOW - 2 * DAY),
        (b"/home/Pictures/beach.jpg", 200 * KIB, NOW - 400 * DAY),
        (b"/home/notes.txt", 4 * KIB, NOW - 1 * DAY),
    ]


def upload_order(files, settings=PrioritySettings()):
    """(path, size) in the order a run reads them: the run's work list, numbered in tree order."""
    work = WorkList(settings, NOW)
    try:
        for no, (path, size, mtime_ns) in enumerate(sorted(files, key=lambda f: tree_key(f[0]))):
            work.add(no, path, size, mtime_ns, cached=None)
        work.seal()
        return [(f.path, f.size) for f in work.order()]
    finally:
        work.close()


def _order(settings=PrioritySettings()):
    return [path.rsplit(b"/", 1)[-1].decode() for path, _ in upload_order(_files(), settings)]


def test_recent_documents_and_small_files_go_first_disk_images_last():
    assert _order() == ["notes.txt", "letter.docx", "beach.jpg", "old-report.pdf", "clip.mov", "Installer.dmg"]


def test_the_score_reads_as_documented():
    assert round(score(b"a.docx", 2 * MIB, NOW - 2 * DAY, NOW), 1) == 5.0
    assert round(score(b"a.jpg", 200 * KIB, NOW - 400 * DAY, NOW), 1) == 9.7
    assert score(b"a.mov", 40 * MIB, NOW - 20 * DAY, NOW) > 20 and score(b"a.dmg", 4 * GIB, 0, NOW) > 33


def test_a_huge_file_waits_behind_at_most_the_set_bytes():
    small = [(f"/d/{i:04}.txt".encode(), 10 * MIB, NOW) for i in range(100)]
    huge = (b"/d/disk.img", 50 * GIB, NOW - 300 * DAY)
    order = upload_order([huge, *small], PrioritySettings(wait_bytes=100 * MIB))
    at = order.index(huge[:2])
    assert sum(size for _, size in order[:at]) == 100 * MIB  # not the 1000 MiB of small files ranked above it
    assert order[:at] == [f[:2] for f in sorted(small)[:10]]


def test_the_order_is_read_a_page_at_a_time_from_both_ends_and_gives_every_file_once():
    """Thousands of files, big ones among them, read from a work list on disk: each exactly once,
    the biggest taken from the back after every `wait_bytes`."""
    files = [(f"/d/{i:05}.txt".encode(), (i % 7 + 1) * KIB, NOW - i * DAY) for i in range(7000)]
    files += [(f"/d/big{i}.iso".encode(), GIB + i, NOW - 300 * DAY) for i in range(5)]
    order = upload_order(files, PrioritySettings(wait_bytes=5 * MIB))
    assert sorted(order) == sorted(f[:2] for f in files)
    bigs = [i for i, (path, _) in enumerate(order) if path.endswith(b".iso")]
    assert order[bigs[0]][0] == b"/d/big4.iso"  # the last ranked goes first of them
    assert 5 * MIB <= sum(size for _, size in order[: bigs[0]]) < 5 * MIB + 7 * KIB


def test_path_order_is_plain_path_order():
    got = [path for path, _ in upload_order(_files(), PrioritySettings(order="path"))]
    assert got == sorted(f[0] for f in _files())


def test_kinds():
    assert [kind_of(n) for n in ("a.PDF", "b.heic", "c.MOV", "d.sparsebundle", "e", "f.bin")] == [
        "document",
        "photo",
        "media",
        "bulk",
        "other",
        "other",
    ]
