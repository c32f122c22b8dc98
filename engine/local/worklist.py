"""A backup run's work list: the files it must read, in reading order, the records of those read,
and the records the files cache vouched for (so the trees never read the files cache again).

Held in memory it cost a few hundred bytes a file (the node, its record, a place in the order); a
first backup of a million files held them all. Here it is a private SQLite database in this
computer's temporary folder (unlinked by SQLite as soon as it is opened: nothing is left behind,
even after kill -9). Files are numbered by their place in the scan's spool, so the trees are
built by reading the spool beside these tables, all in the same order.

The reading order is `engine.config.priority`'s, across the whole selection: the table is read from
both ends of its score index, a page at a time.

The vouched records go to a plain temporary file (unlinked at once) in spool order: written once
while the files cache is read beside the scan, read back in the same order by each pass of the
trees. A second pass over the files cache cost a SQLite page read and a MAC check per file: a
sixth of a no-change backup of 200,000 small files.

The records of the files read go to another such file, in the order they were read, with where
each starts kept per file number (8 bytes a file), read back with a pread each. In a SQLite table
keyed by number, every record was an insert at a random place of a B-tree, since reading goes in
priority order: 7 us a file on the reading thread, a tenth of a first backup of small files.

A pass of the trees reads those records in spool order, and hands the files the files cache may
vouch for to the run, path and record with each, in another such file (`Vouched`): the files cache
is given them from there once the snapshot is saved, in one sequential read.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterator
from typing import NamedTuple

from engine.config.priority import PrioritySettings, interleave, score
from engine.local.state import disk_full_said, scratch_db

__all__ = ["WorkList", "ToRead", "Vouched"]

_SCHEMA = """
CREATE TABLE todo (no INTEGER PRIMARY KEY, path BLOB, size INTEGER, rank INTEGER, cached BLOB);
CREATE TABLE unseen (key BLOB);
"""
_PAGE = 2048
_BATCH = 10_000
_KEPT = struct.Struct("<QI")  # a vouched record's file number and length (a big file's: 32 B a chunk), then its bytes
#: a file to remember (`Vouched`): its number, whether it is sure, its path's length, then that of path and record
_VOUCHED = struct.Struct("<QBII")
_BLOCK = 1 << 16
_LENGTH = struct.Struct("<I")  # a read file's record: its length, then its bytes
_GUESS = 512  # bytes read at once of a read file's record: most records are shorter


def _rank(score: float, no: int) -> int:
    """The score (to a millionth; it lies within -6..76) then the number, as one integer: a page
    of the order is then one index range (with two columns, a page of equal scores was found by
    scanning every row of that score before it: quadratic in a big folder of like files)."""
    return round((score + 64) * (1 << 20)) << 32 | no


class ToRead(NamedTuple):
    no: int
    path: bytes
    size: int
    #: the files cache had it (changed, not new)
    #: a digest of the tree entry the files cache held for it (engine.local.filerecord.digest), None when
    #: it held none: the file is new
    cached: bytes | None


def _disk() -> contextlib.AbstractContextManager[None]:
    return disk_full_said(
        "there is no room for the backup's list of files to read in the temporary folder",
        hint="Free some space on this computer's disk (the list needs about 300 bytes a file) and back up again.",
    )


class WorkList:
    """Filled by one thread (`add`, `gone`, then `seal`); then read by the run's threads at once."""

    def __init__(self, priority: PrioritySettings, now_ns: int) -> None:
        self._priority = priority
        self._now_ns = now_ns
        self._lock = threading.Lock()
        self._db = scratch_db()
        self._db.executescript(_SCHEMA)
        self._todo: list[tuple] = []
        self._unseen: list[tuple[bytes]] = []
        self._fresh: list[tuple[int, bytes]] = []  # read, not yet flushed
        self._read = tempfile.TemporaryFile(prefix="backbeat-read-", buffering=0)  # noqa: SIM115 - closed by close()
        self._read_end = 0  # guarded by self._lock: bytes flushed to self._read
        #: per file number: where its record starts in self._read, plus one (0: not read); sized by `seal`
        self._read_at = array("q")
        #: per file number: 1 once read (a pass finds the next in compiled code, not a number at a time)
        self._was_read = bytearray()
        self._top = -1  # the highest number added
        self._kept = _Rows("backbeat-kept-", _KEPT)
        self._passes: list[Vouched] = []  # closed here, if not by the run, whatever happened
        self.count = 0
        self.bytes = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._kept.close()
            self._read.close()
            for vouched in self._passes:
                vouched.close()

    def vouched(self) -> Vouched:
        """Where a pass of the trees puts the files the files cache may vouch for."""
        vouched = Vouched()
        with self._lock:
            self._passes = [v for v in self._passes if not v.closed]
            self._passes.append(vouched)
        return vouched

    def _write(self, sql: str, rows: list[tuple]) -> None:
        with self._lock, _disk(), self._db:
            self._db.executemany(sql, rows)
        rows.clear()

    def _page(self, sql: str, params: tuple) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- filling -----------------------------------------------------------------------------
    def add(self, no: int, path: bytes, size: int, mtime_ns: int, cached: bytes | None) -> None:
        """File number `no` (its place among the spool's files) is to be read."""
        p = self._priority
        rank = no if p.order == "path" else _rank(score(path, size, mtime_ns, self._now_ns, p.recent_days), no)
        self._todo.append((no, path, size, rank, cached))
        self._top = max(self._top, no)
        self.count += 1
        self.bytes += size
        if len(self._todo) >= _BATCH:
            self._write("INSERT INTO todo VALUES (?, ?, ?, ?, ?)", self._todo)

    def keep(self, no: int, record: bytes) -> None:
        """File number `no` is not to be read: `record`, which the files cache vouched for, is its."""
        self._kept.add(record, no)

    def gone(self, key: bytes) -> None:
        """The files cache holds `key`, under the paths backed up, and the scan did not find it."""
        self._unseen.append((key,))
        if len(self._unseen) >= _BATCH:
            self._write("INSERT INTO unseen VALUES (?)", self._unseen)

    def seal(self) -> None:
        self._kept.flush()
        self._write("INSERT INTO todo VALUES (?, ?, ?, ?, ?)", self._todo)
        self._write("INSERT INTO unseen VALUES (?)", self._unseen)
        with self._lock, _disk():
            self._db.execute("CREATE INDEX todo_order ON todo (rank)")
            self._read_at = array("q", bytes(8 * (self._top + 1)))
            self._was_read = bytearray(self._top + 1)

    # -- reading -----------------------------------------------------------------------------
    def _ranked(self, descending: bool) -> Iterator[ToRead]:
        cmp, order = ("<", "DESC") if descending else (">", "ASC")
        sql = f"SELECT no, path, size, cached, rank FROM todo WHERE rank {cmp} ? ORDER BY rank {order} LIMIT {_PAGE}"
        after = 1 << 62 if descending else -1
        while page := self._page(sql, (after,)):
            for no, path, size, cached, _ in page:
                yield ToRead(no, path, size, cached)
            after = page[-1][4]

    def order(self) -> Iterator[ToRead]:
        """The files to read, in reading order (`engine.config.priority`); not thread-safe itself."""
        wait = self._priority.wait_bytes if self._priority.order != "path" else float("inf")
        return interleave(self._ranked(False), self._ranked(True), self.count, lambda f: f.size, wait)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        """(path, size) in reading order: what the forecast walks."""
        return ((f.path, f.size) for f in self.order())

    def numbers(self) -> Iterator[int]:
        """The numbers of the files to read, in spool order."""
        after = -1
        while page := self._page(f"SELECT no FROM todo WHERE no > ? ORDER BY no LIMIT {_PAGE}", (after,)):
            for (no,) in page:
                yield no
            after = page[-1][0]

    # -- records of the files read -------------------------------------------------------------
    def done(self, no: int, record: bytes) -> None:
        """File `no` was read: its record (kept in memory until `flush`, a few at a time)."""
        with self._lock:
            self._fresh.append((no, record))
            full = len(self._fresh) >= 1000
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock, _disk():
            batch, self._fresh = self._fresh, []
            parts, starts, end = [], [], self._read_end
            for no, record in batch:
                starts.append((no, end + 1))
                parts += (_LENGTH.pack(len(record)), record)
                end += _LENGTH.size + len(record)
            self._read.write(b"".join(parts))
            self._read_end = end
            for no, start in starts:
                self._read_at[no] = start
                self._was_read[no] = 1

    def _records_at(self) -> Callable[[int], bytes | None]:
        """For one pass over the records flushed so far: file number -> its record (None: not read).
        A pread each: through a map of the file a pass cost a third as much, but the kernel maps 64
        KiB around each fault, so a pass held the whole file in the process's memory (72 MB for
        300,000 records)."""
        with self._lock:
            end = self._read_end
        at, unpack, fd = self._read_at, _LENGTH.unpack_from, self._read.fileno()

        def record(no: int) -> bytes | None:
            start = at[no] - 1
            if not 0 <= start < end:
                return None
            data = os.pread(fd, _GUESS, start)
            (size,) = unpack(data)
            if _LENGTH.size + size > len(data):  # a big file's record
                data += os.pread(fd, _LENGTH.size + size - len(data), start + len(data))
            return data[_LENGTH.size : _LENGTH.size + size]

        return record

    def records(self) -> Iterator[tuple[int, bytes]]:
        """(number, record) of the files read so far (up to the last `flush`), in spool order."""
        record, was_read = self._records_at(), self._was_read
        no = was_read.find(1)
        while no >= 0:
            if (found := record(no)) is not None:
                yield no, found
            no = was_read.find(1, no + 1)

    def kept(self) -> Iterator[tuple[int, bytes]]:
        """(number, record) of every file `keep` was told of, in spool order (after `seal`; each
        call reads from the start, so checkpoints and the final trees read alike)."""
        return ((head[0], record) for head, record in self._kept)

    def unseen(self) -> Iterator[bytes]:
        after = 0
        sql = f"SELECT rowid, key FROM unseen WHERE rowid > ? ORDER BY rowid LIMIT {_PAGE}"
        while page := self._page(sql, (after,)):
            for _, key in page:
                yield key
            after = page[-1][0]


class _Rows:
    """Rows added to an unlinked temporary file a block at a time (none is held per file), read
    back from the start in the order they were added: each is `head`, whose last field is the
    length of the body that follows."""

    def __init__(self, prefix: str, head: struct.Struct) -> None:
        self._file = tempfile.TemporaryFile(prefix=prefix, buffering=0)  # noqa: SIM115 - closed by close()
        self._head = head
        self._batch: list[bytes] = []
        self._bytes = 0

    def add(self, body: bytes, *fields: int) -> None:
        self._batch += (self._head.pack(*fields, len(body)), body)
        self._bytes += len(body)
        if self._bytes >= _BLOCK:
            self.flush()

    def flush(self) -> None:
        with _disk():
            self._file.write(b"".join(self._batch))
        self._batch.clear()
        self._bytes = 0

    def __iter__(self) -> Iterator[tuple[tuple[int, ...], bytes]]:
        """(head, body) of each row flushed."""
        fd, offset, rest = self._file.fileno(), 0, b""
        size, unpack = self._head.size, self._head.unpack_from
        while block := os.pread(fd, _BLOCK, offset):
            offset += len(block)
            data, at = rest + block, 0
            while len(data) - at >= size:
                head = unpack(data, at)
                end = at + size + head[-1]
                if end > len(data):
                    break
                yield head, data[at + size : end]
                at = end
            rest = data[at:]

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self) -> None:
        self._file.close()


class Vouched:
    """The files one pass of the trees found the files cache may vouch for once the snapshot that
    names them is saved, with their paths and records, in spool order; and the `sure=False` ones,
    changed in the run's last moments, to remember with a blank stat (engine.jobs.backup,
    `remember`). The pass holds each record in hand: read again by number afterwards, each cost a
    random read and a share of a query (a first backup of 1,000,000 small files gave the cache its
    rows in 7.5 s, against 10.6 s; of 200,000, in 1.3 s against 1.8 s, its trees 0.2 s slower)."""

    def __init__(self) -> None:
        self._rows = _Rows("backbeat-vouched-", _VOUCHED)
        #: the highest number added
        self.top = -1

    def add(self, no: int, path: bytes, record: bytes, *, sure: bool = True) -> None:
        self._rows.add(path + record, no, sure, len(path))
        if no > self.top:
            self.top = no

    def __iter__(self) -> Iterator[tuple[int, bytes, bytes, bool]]:
        """(number, path, record, sure) of each file added."""
        self._rows.flush()
        for (no, sure, path_length, _), body in self._rows:
            yield no, body[:path_length], body[path_length:], bool(sure)

    @property
    def closed(self) -> bool:
        return self._rows.closed

    def close(self) -> None:
        self._rows.close()
