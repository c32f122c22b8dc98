"""A files-cache record: what this computer knew of a file when it last read it.

The record is the file's lstat packed (`engine.local.spool.pack_meta`, fixed size) followed by
its encoded tree entry (`engine.repo.tree.encode_entry`: name, mode, time, size, metadata, xattrs,
blob ids). A record whose stat equals the scan's, and whose blobs are all indexed, vouches for the
file: it is not read, and its entry goes into the tree as it is. The format lives here only; the
backup and the local state pass records around as bytes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Container, Iterable

from engine.local.spool import META_SIZE, STAT, meta_mtime_ns, pack_meta
from engine.platform import current as platform
from engine.repo.tree import TreeEntry, decode_entry, encode_entry, entry_ids, ids_known

__all__ = ["make", "entry_of", "digest", "unvouched", "vouches", "same_file", "blob_ids", "mtime_ns", "upgraded"]


def make(st: os.stat_result, entry: TreeEntry) -> bytes:
    return pack_meta(st) + encode_entry(entry)


def entry_of(record: bytes) -> bytes:
    """The file's encoded tree entry, as a tree stores it."""
    return record[META_SIZE:]


def digest(record: bytes) -> bytes:
    """What a record says of a file's content and metadata (its tree entry), in 16 bytes."""
    return hashlib.blake2b(memoryview(record)[META_SIZE:], digest_size=16).digest()


def unvouched(record: bytes) -> bytes:
    """The same entry with a blank stat: the next run reads the file again (and finds it the same
    when it is), for a file that changed in a run's last moments within one mtime tick."""
    return bytes(META_SIZE) + record[META_SIZE:]


def vouches(record: bytes | None, meta: bytes, known: Container[bytes]) -> bool:
    """Whether `record` vouches for a file the scan saw with `meta`: same stat, every blob known."""
    return record is not None and record.startswith(meta) and ids_known(record, META_SIZE, known)


def same_file(record: bytes | None, meta: bytes, known: Container[bytes]) -> bool:
    """Whether `record` holds the file the scan saw with `meta` by device, inode, size and mtime,
    every blob known: for a file only in the cloud, whose change time moves when its content is
    evicted from this computer (so `vouches` would not match), and which must not be read."""
    if record is None:
        return False
    dev, ino, mtime, _, size, _ = STAT.unpack_from(meta)
    was = STAT.unpack_from(record)
    return (was[0], was[1], was[2], was[4]) == (dev, ino, mtime, size) and ids_known(record, META_SIZE, known)


def blob_ids(record: bytes) -> Iterable[bytes]:
    return entry_ids(record, META_SIZE)


def mtime_ns(record: bytes) -> int:
    return meta_mtime_ns(record)


def upgraded(path: bytes, record: bytes) -> bytes:
    """A record from before entries carried metadata (local state schema 7), given its file's
    metadata as it is now when the file is still what the record says (the same stat): the upgrade
    reads no file's content. A file that changed keeps an entry without metadata; it is read anyway."""
    entry, _ = decode_entry(memoryview(record), META_SIZE, with_meta=False)
    try:
        st = os.lstat(path)
    except OSError:
        st = None
    if st is not None and pack_meta(st) == record[:META_SIZE]:
        system = platform()
        entry = entry._replace(xattrs=system.xattrs(path), meta=system.metadata(path, st))
    return record[:META_SIZE] + encode_entry(entry)
