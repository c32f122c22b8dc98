"""What a slow first upload sends first."""

from engine.priority import PrioritySettings, kind_of, score, upload_order

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


def _order(settings=PrioritySettings()):
    return [f[0].rsplit(b"/", 1)[-1].decode() for f in upload_order(_files(), lambda f: f, NOW, settings)]


def test_recent_documents_and_small_files_go_first_disk_images_last():
    assert _order() == ["notes.txt", "letter.docx", "beach.jpg", "old-report.pdf", "clip.mov", "Installer.dmg"]


def test_the_score_reads_as_documented():
    assert round(score(b"a.docx", 2 * MIB, NOW - 2 * DAY, NOW), 1) == 5.0
    assert round(score(b"a.jpg", 200 * KIB, NOW - 400 * DAY, NOW), 1) == 9.7
    assert score(b"a.mov", 40 * MIB, NOW - 20 * DAY, NOW) > 20 and score(b"a.dmg", 4 * GIB, 0, NOW) > 33


def test_a_huge_file_waits_behind_at_most_the_set_bytes():
    small = [(f"/d/{i:04}.txt".encode(), 10 * MIB, NOW) for i in range(100)]
    huge = (b"/d/disk.img", 50 * GIB, NOW - 300 * DAY)
    order = upload_order([huge, *small], lambda f: f, NOW, PrioritySettings(wait_bytes=100 * MIB))
    before = sum(f[1] for f in order[: order.index(huge)])
    assert before == 100 * MIB  # not the 1000 MiB of small files ranked above it
    assert order[: order.index(huge)] == sorted(small)[:10]


def test_path_order_is_plain_path_order():
    got = [f[0] for f in upload_order(_files(), lambda f: f, NOW, PrioritySettings(order="path"))]
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
