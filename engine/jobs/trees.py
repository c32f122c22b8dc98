"""The snapshot's trees, built bottom-up in one pass over the scan's spool.

Beside the spool, in the same tree order, run the files read this run and the records the files
cache vouched for (both in the work list), so a file's tree entry is a step forward in one of
them, never a lookup. A folder's tree is split into parts (TreeSplitter) as it fills and stored
as the walk leaves it; a file whose record is missing (not read yet at a checkpoint) is left out
of this snapshot.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Container

from engine.base.events import FileSkipped
from engine.base.metadata import Metadata
from engine.jobs.session import Session
from engine.local import filerecord
from engine.local.scanner import Scan
from engine.local.spool import Entry, Tag, meta_mode, meta_mtime_ns
from engine.local.state import State
from engine.local.worklist import Vouched, WorkList
from engine.platform import current as platform
from engine.repo.blob import BlobType
from engine.repo.blobstore import BlobStore
from engine.repo.tree import Kind, TreeEntry, TreeSplitter, encode_entry, name_of

__all__ = ["CacheCursor", "Records", "build_trees"]


def build_trees(
    found: Scan,
    records: Records,
    store: BlobStore,
    session: Session,
    report: Callable[[FileSkipped], None],
    vouched: Vouched,
    *,
    racy_ns: int,
    coming: frozenset[bytes] | None = None,
    unsure: bool = False,
) -> tuple[bytes, int, int]:
    """Store the trees of the scan; returns (root tree id, folders, files). Adds to `vouched` the
    files read this run that the files cache may vouch for: those whose mtime is before `racy_ns`
    (one changed in the run's last moments may change again within the same mtime: with `unsure`,
    those are added as not sure). With `coming` (a checkpoint), only files whose every blob is
    indexed or in those."""
    known = session.index
    seed = session.repo.tree_seed

    def put(part: bytes) -> bytes:
        return store.put(BlobType.TREE, part)

    folders: list[Folder] = []
    root = (b"", 0, 0)
    no = -1
    for entry in found.spool:
        tag = entry.tag
        if tag == Tag.FILE:
            no += 1
            record, fresh = records.of(no)
            if record is None:
                if not fresh:
                    why = "its record was lost during the backup; it will be backed up next time"
                    report(FileSkipped(os.fsdecode(entry.path), why, warning=True))
                continue  # a file to read that was not read (yet), or could not be
            if fresh:
                if coming is not None and not all(i in known or i in coming for i in filerecord.blob_ids(record)):
                    continue  # part of it is not even packed yet
                if filerecord.mtime_ns(record) < racy_ns:
                    vouched.add(no, entry.path, record)
                elif unsure:
                    vouched.add(no, entry.path, record, sure=False)
            folder = folders[-1]
            folder.files += 1
            folder.splitter.add(name_of(entry.path), filerecord.entry_of(record))
        elif tag == Tag.ENTER:
            folders.append(Folder(entry, TreeSplitter(seed, put)))
        elif tag == Tag.LEAVE:
            done = folders.pop()
            tree_id = done.splitter.finish()
            if not folders:
                root = (tree_id, done.dirs, done.files)
                continue
            folder = folders[-1]
            folder.dirs += done.dirs
            folder.files += done.files
            folder.add_folder(done.entry, tree_id)
        elif tag == Tag.KEPT:
            folders[-1].add_folder(entry, entry.extra)
        else:
            name = name_of(entry.path)
            link = TreeEntry(
                name,
                Kind.SYMLINK,
                meta_mode(entry.meta),
                meta_mtime_ns(entry.meta),
                target=entry.extra,
                meta=_metadata(entry.path),
            )
            folders[-1].splitter.add(name, encode_entry(link))
    return root


def _metadata(path: bytes) -> Metadata | None:
    """A folder's or link's metadata, read when its tree entry is made (None when it is gone)."""
    try:
        return platform().metadata(path, os.lstat(path))
    except OSError:
        return None


class CacheCursor:
    """The files cache read beside the spool, both in tree order: a file's record is a step
    forward, not a lookup. `passed` hears of each key stepped over (held, but not asked for)."""

    def __init__(self, state: State, passed: Callable[[bytes], None] | None = None) -> None:
        self._rows = state.cached_files()
        self._row = next(self._rows, None)
        self._passed = passed

    def seek(self, key: bytes) -> bytes | None:
        """The record of `key`, None when the cache has none; keys must increase."""
        row = self._row
        while row is not None and row[0] < key:
            if self._passed is not None:
                self._passed(row[0])
            row = next(self._rows, None)
        if row is not None and row[0] == key:
            self._row = next(self._rows, None)
            return row[1]
        self._row = row
        return None

    def finish(self) -> None:
        """Step over the rest."""
        while self._row is not None:
            if self._passed is not None:
                self._passed(self._row[0])
            self._row = next(self._rows, None)


class Records:
    """Each file's record, asked for in spool order: a file read this run, or one the files cache
    vouched for (`WorkList.keep`), both read beside the spool; none for a file left in the cloud."""

    def __init__(self, work: WorkList, cloud_only: Container[int]) -> None:
        self._cloud_only = cloud_only
        self._to_read = work.numbers()
        self._next_to_read = next(self._to_read, None)
        self._fresh = work.records()
        self._read = next(self._fresh, None)
        self._vouched = work.kept()
        self._kept = next(self._vouched, None)

    def of(self, no: int) -> tuple[bytes | None, bool]:
        """(the record of file number `no`, whether it is one to read); None for a file to read
        that has not been read (yet), or was not read because it is only in the cloud."""
        if no in self._cloud_only:
            return None, True
        if no == self._next_to_read:
            self._next_to_read = next(self._to_read, None)
            while self._read is not None and self._read[0] < no:
                self._read = next(self._fresh, None)
            return (self._read[1] if self._read is not None and self._read[0] == no else None), True
        while self._kept is not None and self._kept[0] < no:
            self._kept = next(self._vouched, None)
        if self._kept is not None and self._kept[0] == no:
            return self._kept[1], False
        return None, False  # neither read nor vouched for: never, as the run classifies files


class Folder:
    """A folder whose tree is being built: its spool entry, its parts so far, and counts under it."""

    __slots__ = ("entry", "splitter", "dirs", "files")

    def __init__(self, entry: Entry, splitter: TreeSplitter) -> None:
        self.entry = entry
        self.splitter = splitter
        self.dirs = 1
        self.files = 0

    def add_folder(self, entry: Entry, tree_id: bytes) -> None:
        name = name_of(entry.path)
        meta = entry.meta
        xattrs, described = platform().xattrs(entry.path), _metadata(entry.path)
        folder = TreeEntry(
            name, Kind.DIR, meta_mode(meta), meta_mtime_ns(meta), xattrs=xattrs, ids=(tree_id,), meta=described
        )
        self.splitter.add(name, encode_entry(folder))
