"""The local state (SQLite) damaged, truncated or from an older version: Backbeat starts it afresh
from the destination, says so, loses nothing and uploads nothing twice."""

import os
import pwd
import sqlite3
import struct

import pytest

from engine.base.events import FileSkipped
from engine.jobs.session import state_path
from engine.local.spool import META_SIZE
from engine.repo.tree import decode_entry, encode_entry
from engine.service import BackupService
from tests.conftest import PASSWORD

_NO_INDEX_MACS = "UPDATE index_files SET plain = substr(plain, 1, length(plain) - 16)"  # as before schema 7
_FIXED = struct.calcsize("<BIqQHHHI")  # an entry's fixed part (docs/format.md), then version 3's metadata marker


def _before_metadata(record: bytes) -> bytes:
    """A files-cache record (without its MAC) as schema 7 and earlier wrote it: the entry as tree
    version 1 encodes it, with no metadata."""
    entry, _ = decode_entry(memoryview(record), META_SIZE)
    raw = encode_entry(entry._replace(meta=None))
    return record[:META_SIZE] + raw[:_FIXED] + raw[_FIXED + 1 :]


def _owners_in_latest(tmp_path) -> dict[str, bytes]:
    service = BackupService(str(tmp_path / "repo"))
    service.unlock(PASSWORD)
    try:
        return {path: entry.meta.user for path, entry in service.list_files("latest") if entry.kind == 0}
    finally:
        service.close()


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


def _back_up_again(tmp_path, src):
    service = BackupService(str(tmp_path / "repo"))
    service.unlock(PASSWORD)
    try:
        return service.backup([str(src)])
    finally:
        service.close()


def _backed_up(tmp_path, files: dict[str, bytes]):
    src = tmp_path / "src"
    for name, body in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(body)
        os.utime(src / name, (1_700_000_000, 1_700_000_000))  # files changed in the last seconds are read again
    service = BackupService(str(tmp_path / "repo"))
    repo_id = service.init(PASSWORD)
    service.unlock(PASSWORD)
    service.backup([str(src)])
    service.close()
    return src, sqlite3.connect(state_path(repo_id))


def test_a_files_cache_from_before_tree_order_is_re_keyed_not_dropped(tmp_path):
    """Schema 5 keyed the files cache by path; 6 keys it in tree order. Dropping it would make the
    next backup read every file again (hours, for a home folder): it is re-keyed instead."""
    src, db = _backed_up(tmp_path, {name: name.encode() * 1000 for name in ("a/x", "a-b", "a.txt", "b")})
    rows = db.execute("SELECT key, record FROM files").fetchall()
    assert len(rows) == 4
    db.execute("DROP TABLE files")
    db.execute("CREATE TABLE files (path BLOB PRIMARY KEY, record BLOB NOT NULL)")
    # v5 rows: keyed by path, without the MAC v7 gives each row
    db.executemany(
        "INSERT INTO files VALUES (?, ?)",
        ((key.replace(b"\0", b"/"), _before_metadata(record[:-16])) for key, record in rows),
    )
    db.execute(_NO_INDEX_MACS)
    db.execute("UPDATE meta SET value='5' WHERE key='schema'")
    db.commit()
    db.close()

    again = _back_up_again(tmp_path, src)
    assert (again.files_unchanged, again.files_new, again.bytes_read) == (4, 0, 0)
    me = pwd.getpwuid(os.geteuid()).pw_name.encode()
    assert set(_owners_in_latest(tmp_path).values()) == {me}  # the upgrade described them without reading them


def test_a_files_cache_record_altered_outside_backbeat_is_not_trusted(tmp_path, caplog):
    """Issue 30: a record's blob ids swapped for another file's made the next backup store the
    wrong content for an unchanged file, which `check` passed and restore returned. Each row now
    carries a MAC keyed by the repository: an altered one is said and its file read again."""
    src, db = _backed_up(tmp_path, {"a.txt": b"A" * 5000, "b.txt": b"B" * 5000})
    (a_key, a_row), (_, b_row) = db.execute("SELECT key, record FROM files ORDER BY key").fetchall()
    # the record ends with the file's one blob id, then its 16-byte MAC: point a.txt at b.txt's data
    forged = a_row[:-48] + b_row[-48:-16] + a_row[-16:]
    db.execute("UPDATE files SET record = ? WHERE key = ?", (forged, a_key))
    db.commit()
    db.close()

    heard = []
    service = BackupService(str(tmp_path / "repo"), events=heard.append)
    service.unlock(PASSWORD)
    again = service.backup([str(src)])
    assert (again.files_unchanged, again.files_changed + again.files_new) == (1, 1)  # a.txt read again
    said = [e.reason for e in heard if isinstance(e, FileSkipped) and e.warning]
    assert said == ["1 file record(s) were changed by something other than Backbeat: those files were read again"]
    assert "changed by something other than Backbeat" in caplog.text  # and in the log
    service.restore("latest", str(tmp_path / "out"))
    service.close()
    assert (tmp_path / "out" / "src" / "a.txt").read_bytes() == b"A" * 5000


def test_an_index_cache_row_altered_outside_backbeat_is_fetched_again(tmp_path, caplog):
    """The index cache says which blobs the destination holds (so they are not sent again): an
    altered row would let a backup skip data that is not there. It is dropped and fetched again."""
    src, db = _backed_up(tmp_path, {"a.txt": b"A" * 5000})
    ((name, plain),) = db.execute("SELECT name, plain FROM index_files").fetchall()
    db.execute("UPDATE index_files SET plain = ? WHERE name = ?", (plain[:-17] + b"x" + plain[-16:], name))
    db.commit()
    db.close()

    service = BackupService(str(tmp_path / "repo"))
    service.unlock(PASSWORD)
    (src / "new.txt").write_bytes(b"N" * 5000)
    again = service.backup([str(src)])
    assert "changed by something other than Backbeat" in caplog.text
    assert again.files_unchanged == 1 and service.check(read_data=True).ok
    service.close()
    db = sqlite3.connect(state_path(service.repository_id()))
    assert db.execute("SELECT plain FROM index_files WHERE name = ?", (name,)).fetchone()[0] == plain
    db.close()


def test_a_files_cache_from_before_its_macs_and_metadata_keeps_its_records(tmp_path):
    """Schema 6 rows had no MAC: they are given one on the first unlocked open, not dropped; rows
    before 8 had no metadata: each is given its file's, read without reading the file; a file
    changed since keeps none, and is read again as any changed file."""
    src, db = _backed_up(tmp_path, {"a.txt": b"A" * 5000, "b.txt": b"B" * 5000})
    rows = db.execute("SELECT key, record FROM files").fetchall()
    db.executemany(
        "UPDATE files SET record = ? WHERE key = ?", ((_before_metadata(record[:-16]), key) for key, record in rows)
    )
    db.execute(_NO_INDEX_MACS)
    db.execute("UPDATE meta SET value='6' WHERE key='schema'")
    db.commit()
    db.close()

    (src / "b.txt").write_bytes(b"b" * 5000)
    again = _back_up_again(tmp_path, src)
    assert (again.files_unchanged, again.bytes_read) == (1, 5000)
    me = pwd.getpwuid(os.geteuid()).pw_name.encode()
    assert _owners_in_latest(tmp_path) == {"src/a.txt": me, "src/b.txt": me}
