"""A restore's plan: every file, folder and link it makes, and where each blob goes, kept on disk.

A restore reads each pack once, so it must know every place each blob goes before reading any:
the whole selection's plan. Held in memory that cost ~1 KB per file (a million-file folder: over
a gigabyte); here it is a private SQLite database in this computer's temporary folder, which
SQLite unlinks as soon as it has opened it (nothing is left behind, even after kill -9), and the
restore reads it back in bounded jobs, pack by pack. What stays in memory is a 4-byte counter
per file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

from engine.local.state import disk_full_said, scratch_db
from engine.repo.tree import Kind, TreeEntry, decode_entry, encode_entry

__all__ = ["RestorePlan", "Place", "PACK_JOB_PLACES"]

_SCHEMA = """
CREATE TABLE entries (
    no INTEGER PRIMARY KEY, kind INTEGER, path BLOB, depth INTEGER, entry BLOB, link_to INTEGER);
CREATE TABLE places (pack BLOB, pack_offset INTEGER, blob BLOB, file INTEGER, at INTEGER);
"""
_BATCH = 10_000
#: at most this many places per pack job, so the jobs in flight hold little. A job reads only the
#: span of its pack that its blobs cover, and the places come in pack order, so a pack split into
#: jobs is still read about once; only a blob shared by more files than this is read once per job.
PACK_JOB_PLACES = 4096


class Place(NamedTuple):
    """Where one blob goes: file number, its path, the offset in the file; and the file's entry
    without its blob ids (encoded), which the blob that makes the file whole gives it."""

    file: int
    path: bytes
    at: int
    entry: bytes


def _disk() -> contextlib.AbstractContextManager[None]:
    return disk_full_said(
        "there is no room for the restore's plan in its temporary folder",
        hint="Free some space on it (the plan needs about 200 bytes for each file to restore) and restore again.",
    )


class RestorePlan:
    """Filled by the restore's walk (`add_*`), then read: `by_pack` for the pack workers, the rest
    to set metadata last. Used by one thread."""

    def __init__(self) -> None:
        self._db = scratch_db()
        self._db.executescript(_SCHEMA)
        self._entries: list[tuple] = []
        self._places: list[tuple] = []
        self.files = 0
        self.dirs = 0
        self.links = 0
        self.bytes = 0
        self._next = 0

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RestorePlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, path: bytes, entry: TreeEntry, link_to: int | None = None) -> int:
        """A folder, link or file to make; its number. `link_to`: the number of a file this one is
        another name of (a hard link, made once that file is in place)."""
        no = self._next
        self._next += 1
        self.files += entry.kind == Kind.FILE
        self.dirs += entry.kind == Kind.DIR
        self.links += entry.kind == Kind.SYMLINK
        kept = encode_entry(entry._replace(ids=()))  # what to set on it; its blobs are in `places`
        self._entries.append((no, entry.kind, path, path.count(b"/"), kept, link_to))
        if len(self._entries) >= _BATCH:
            self._flush()
        return no

    def add_place(self, file: int, pack_id: bytes, pack_offset: int, blob_id: bytes, at: int) -> None:
        self._places.append((pack_id, pack_offset, blob_id, file, at))
        if len(self._places) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        with _disk(), self._db:  # one transaction
            self._db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)", self._entries)
            self._db.executemany("INSERT INTO places VALUES (?, ?, ?, ?, ?)", self._places)
        self._entries.clear()
        self._places.clear()

    def by_pack(self) -> Iterator[tuple[bytes, list[tuple[bytes, list[Place]]]]]:
        """(pack id, [(blob id, where it goes)] in the pack's order), at most PACK_JOB_PLACES
        places at a time."""
        self._flush()
        pack: bytes | None = None
        blobs: list[tuple[bytes, list[Place]]] = []
        count = 0
        with _disk():  # the sort may spill to the temporary folder too
            rows = self._db.execute(
                "SELECT p.pack, p.blob, p.file, e.path, p.at, e.entry FROM places p JOIN entries e ON e.no = p.file "
                "ORDER BY p.pack, p.pack_offset, p.blob"
            )
            for pack_id, blob_id, file, path, at, entry in rows:
                if pack_id != pack or count >= PACK_JOB_PLACES:
                    if blobs:
                        yield pack, blobs
                    pack, blobs, count = pack_id, [], 0
                if not blobs or blobs[-1][0] != blob_id:
                    blobs.append((blob_id, []))
                blobs[-1][1].append(Place(file, path, at, entry))
                count += 1
        if blobs:
            yield pack, blobs

    def entries(self, kind: Kind, deepest_first: bool = False) -> Iterator[tuple[int, bytes, TreeEntry]]:
        """(number, path, its entry without blob ids: what to set on it); hard links not among them."""
        self._flush()
        order = "depth DESC" if deepest_first else "no"
        with _disk():
            rows = self._db.execute(
                f"SELECT no, path, entry FROM entries WHERE kind = ? AND link_to IS NULL ORDER BY {order}", (kind,)
            )
            for no, path, entry in rows:
                yield no, path, decode_entry(memoryview(entry))[0]

    def hard_links(self) -> Iterator[tuple[int, bytes, int, bytes]]:
        """(number, path, the number and path of the file it is another name of), in plan order."""
        self._flush()
        with _disk():
            yield from self._db.execute(
                "SELECT e.no, e.path, f.no, f.path FROM entries e JOIN entries f ON f.no = e.link_to ORDER BY e.no"
            )
