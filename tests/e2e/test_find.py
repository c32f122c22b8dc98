"""Find a file by name across every backup: each version once, with the newest backup holding it."""

from __future__ import annotations

import inspect
import os
import sys
import time

from engine.service import BackupService
from tests.conftest import PASSWORD


def _write(path, text: str, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def test_find_gives_each_version_once_across_backups_with_the_newest_holding_it(tmp_path, cli):
    src = tmp_path / "src"
    day = time.time() - 10 * 86400
    _write(src / "Documents" / "Tax Report 2025.pdf", "first draft", day)
    _write(src / "Documents" / "old" / "tax report 2019.pdf", "old", day)
    _write(src / "Pictures" / "IMG_0001.JPG", "a photo", day)
    _write(src / "Pictures" / "notes.txt", "x", day)
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    try:
        first = service.backup([str(src)]).snapshot_id
        service.backup([str(src)])  # nothing changed: the same versions, one more backup holding them
        _write(src / "Documents" / "Tax Report 2025.pdf", "final, signed", day + 86400)
        (src / "Documents" / "old" / "tax report 2019.pdf").unlink()  # deleted: still found in older backups
        latest = service.backup([str(src)]).snapshot_id

        versions, more = service.find("tax report")
        assert not more
        by_path = {}
        for v in versions:
            by_path.setdefault(v.path, []).append(v)
        assert sorted(by_path) == ["src/Documents/Tax Report 2025.pdf", "src/Documents/old/tax report 2019.pdf"]
        newer, older = by_path["src/Documents/Tax Report 2025.pdf"]  # newest modification first
        assert (newer.size, newer.snapshot_id, newer.backups) == (len("final, signed"), latest, 1)
        assert (older.size, older.backups) == (len("first draft"), 2)
        gone = by_path["src/Documents/old/tax report 2019.pdf"][0]
        assert gone.backups == 2 and gone.snapshot_id != first  # the newer of the two backups holding it

        assert [v.path for v in service.find("*.jpg")[0]] == ["src/Pictures/IMG_0001.JPG"]  # any case
        assert [v.path for v in service.find("old")[0]] == ["src/Documents/old"]  # folders are found too
        assert service.find("nothing like it")[0] == []
        few, more = service.find("t", limit=2)
        assert len(few) == 2 and more
    finally:
        service.close()

    out = cli.json("find", "IMG_0001")
    assert [(r["path"], r["snapshots"]) for r in out["versions"]] == [("src/Pictures/IMG_0001.JPG", 3)]
    assert "Nothing named like" in cli("find", "zzz").stdout


def test_find_searches_any_depth_without_recursion(tmp_path):
    """Python's stack is kept short for the search (100 frames to spare): a folder 300 deep is
    still searched, as one thousands deep would be with the usual limit."""
    src = tmp_path / "src"
    src.mkdir()
    fd = os.open(src, os.O_RDONLY)
    for _ in range(300):
        os.mkdir("d", dir_fd=fd)
        fd, parent = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(parent)
    os.close(os.open("needle.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    os.close(fd)
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    try:
        service.backup([str(src)])
        service.snapshots()  # loaded before the stack is cut short
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(len(inspect.stack()) + 100)
        try:
            (found,) = service.find("needle")[0]
        finally:
            sys.setrecursionlimit(limit)
        assert found.path.endswith("/d/needle.txt") and found.path.count("/") == 301
    finally:
        service.close()
