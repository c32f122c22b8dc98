"""The local state (SQLite) damaged, truncated or from an older version: Backbeat starts it afresh
from the destination, says so, loses nothing and uploads nothing twice."""

import os
import sqlite3

import pytest

from engine.events import FileSkipped
from engine.service import BackupService
from engine.session import state_path
from tests.conftest import PASSWORD


def _damage(path, how: str) -> None:
    for extra in ("-wal", "-shm"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:3000])
    elif how == "garbage":
        path.write_bytes(b"not a database at all" * 100)
    elif how == "older version":
        db = sqlite3.connect(path)
        db.execute("UPDATE meta SET value='1' WHERE key='schema'")
        db.execute("DROP TABLE index_files")
        db.execute("CREATE TABLE index_files (name TEXT PRIMARY KEY)")  # an older layout
        db.commit()
        db.close()


@pytest.mark.parametrize("how", ["deleted", "truncated", "garbage", "older version"])
def test_damaged_local_state_is_rebuilt_and_nothing_is_sent_twice(tmp_path, how):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(30):
        (src / f"f{i}").write_bytes(bytes([i]) * 200_000 + i.to_bytes(4, "little") * 1000)
    service = BackupService(str(tmp_path / "repo"))
    repo_id = service.init(PASSWORD)
    service.unlock(PASSWORD)
    first = service.backup([str(src)])
    service.close()
    _damage(state_path(repo_id), how)

    heard = []
    service = BackupService(str(tmp_path / "repo"), events=heard.append)
    service.unlock(PASSWORD)
    again = service.backup([str(src)])
    assert again.bytes_added < 10_000  # the trees at most: the data is at the destination already
    assert [s.id for s in service.snapshots()] == [first.snapshot_id, again.snapshot_id]
    said = [e for e in heard if isinstance(e, FileSkipped) and "was damaged" in e.reason]
    assert len(said) == (1 if how in ("truncated", "garbage") else 0)
    assert service.check(read_data=True).ok
    service.restore("latest", str(tmp_path / "out"))
    assert (tmp_path / "out" / "src" / "f7").read_bytes() == (src / "f7").read_bytes()
    service.close()


def test_a_files_cache_from_before_tree_order_is_re_keyed_not_dropped(tmp_path):
    """Schema 5 keyed the files cache by path; 6 keys it in tree order. Dropping it would make the
    next backup read every file again (hours, for a home folder): it is re-keyed instead."""
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    for name in ("a/x", "a-b", "a.txt", "b"):
        (src / name).write_bytes(name.encode() * 1000)
        os.utime(src / name, (1_700_000_000, 1_700_000_000))  # files changed in the last seconds are read again
    service = BackupService(str(tmp_path / "repo"))
    repo_id = service.init(PASSWORD)
    service.unlock(PASSWORD)
    service.backup([str(src)])
    service.close()
    db = sqlite3.connect(state_path(repo_id))
    rows = db.execute("SELECT key, record FROM files").fetchall()
    assert len(rows) == 4
    db.execute("DROP TABLE files")
    db.execute("CREATE TABLE files (path BLOB PRIMARY KEY, record BLOB NOT NULL)")
    db.executemany("INSERT INTO files VALUES (?, ?)", ((key.replace(b"\0", b"/"), record) for key, record in rows))
    db.execute("UPDATE meta SET value='5' WHERE key='schema'")
    db.commit()
    db.close()

    service = BackupService(str(tmp_path / "repo"))
    service.unlock(PASSWORD)
    again = service.backup([str(src)])
    service.close()
    assert (again.files_unchanged, again.files_new, again.bytes_read) == (4, 0, 0)
