"""The index saved as its packed table, beside the local state: the next run opens it, and maps
its records rather than reading them.

Loading the index from the cache's index files parses every blob and sorts them all: for the
story's home (1.4 million blobs) 2.6-3.0 s and a peak of 280 MiB more, at every run of the CLI
and every start of the app (into a dict, as before: 1.7-2.0 s and 340 MiB). Saved, it is opened
in a fraction of that, and the index files written since are added on top. It is only ever a copy
of what the index files say (`Index.packed` refuses anything else: packs not yet named by an index
file are never in it), it names the index files it was built from, and it carries a MAC under the
state's record key: one that does not match, or names an index file the cache no longer holds (a
prune rewrote them), is not used, and the index is built from the index files again.

The records (72 MiB for that home) are mapped from the file, not read into the process: pages
of the file the system reads in as lookups touch them, and drops again under memory pressure at no
cost, where a copy in the process's own memory would be swapped. They are checked once, by
reading the file a window at a time, and never written in place: a save writes a new file and
renames it over the old, so a mapping keeps the bytes it was checked with.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import threading
from array import array
from collections.abc import Set
from pathlib import Path
from typing import BinaryIO, NamedTuple

from engine.repo.blobtable import Records
from engine.repo.crypto import RECORD_MAC_SIZE, RecordMac, plain_hasher
from engine.repo.index import Packed

__all__ = ["Saved", "load", "save"]

_log = logging.getLogger(f"backbeat.{__name__}")

_MAGIC = b"BBIX"
_VERSION = 2
#: magic, version, then the lengths of: names, packs, alternates, directory, records
_HEAD = struct.Struct("<4sIQQQQQ")
_MAC_NAME = b"saved index"
#: the records start at a multiple of this, so they can be mapped: every system's page size and
#: mapping granularity divides it (4 KiB and 16 KiB pages, Windows' 64 KiB)
_ALIGN = 1 << 16
_WINDOW = 1 << 22  # the records are checked this many bytes at a time


class Saved(NamedTuple):
    """A saved index, as read back."""

    #: the index files it holds: exactly their blobs
    names: frozenset[str]
    packed: Packed


def save(path: Path, mac: RecordMac, names: Set[str], packed: Packed) -> Records | None:
    """Written aside and renamed into place: a reader finds the old one or the new one, whole.
    Returns its records, mapped from the file (the caller's copy can go); None when it could not
    be saved (a full disk), which costs only the speed-up: the next run builds the index again."""
    listed = "\n".join(sorted(names)).encode()
    parts = [listed, packed.packs, packed.alternates, packed.directory.tobytes()]
    head = _HEAD.pack(_MAGIC, _VERSION, *map(len, parts), len(packed.records))
    at = _records_at(len(head) + sum(map(len, parts)))
    tag = _tag(mac, head, parts, plain_hasher().update(packed.records).digest())
    aside = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")  # two loads may meet
    try:
        with open(os.open(aside, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:  # it is the user's
            for part in (head, *parts):
                f.write(part)
            f.write(bytes(at - f.tell()))
            f.write(packed.records)
            f.write(tag)
            f.flush()
            records = _mapped(f, at, len(packed.records))
        os.replace(aside, path)
    except OSError as e:
        _log.info("the index could not be saved for the next run (%s): it is built again then", e.strerror)
        aside.unlink(missing_ok=True)
        return None
    return records


def load(path: Path, mac: RecordMac) -> Saved | None:
    """The saved index, None when there is none or it is not whole and as this computer wrote it."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD.size)
            if len(head) != _HEAD.size:
                return None
            magic, version, *lengths, size = _HEAD.unpack(head)
            if magic != _MAGIC or version != _VERSION:
                return None  # an older form: built again, and saved in this one
            at = _records_at(_HEAD.size + sum(lengths))
            whole = os.fstat(f.fileno()).st_size == at + size + RECORD_MAC_SIZE  # then no length is absurd
            parts = [f.read(n) for n in lengths] if whole else []
            if not whole or not _authentic(f, head, parts, at, size, mac):
                _log.warning("the saved index %s is not whole, or was changed: it is built again", path)
                return None
            records = _mapped(f, at, size)  # no page of it lies past the file's end
    except FileNotFoundError:
        return None
    except OSError as e:
        _log.info("the saved index could not be read (%s): it is built again", e.strerror)
        return None
    listed, packs, alternates, directory = parts
    names = frozenset(listed.decode().split("\n")) if listed else frozenset()
    return Saved(names, Packed(packs, alternates, records, array("I", directory)))


def _authentic(f: BinaryIO, head: bytes, parts: list[bytes], at: int, size: int, mac: RecordMac) -> bool:
    """Whether the MAC at the file's end is that of its head, its parts and its records."""
    f.seek(at)
    digest = _digest(f, size)
    return f.read(RECORD_MAC_SIZE) == _tag(mac, head, parts, digest)


def _tag(mac: RecordMac, head: bytes, parts: list[bytes], digest: bytes) -> bytes:
    """The MAC that ends the file: over its head, its parts and the hash of its records (what
    `save` writes and `load` checks, defined once)."""
    return mac(_MAC_NAME, head, *parts, digest)


def _records_at(end: int) -> int:
    """Where the records start: after the rest, which ends at `end`, at the next multiple of _ALIGN."""
    return -(-end // _ALIGN) * _ALIGN


def _digest(f: BinaryIO, size: int) -> bytes:
    """The records' hash, read a window at a time: none of them stays in memory."""
    hasher, window = plain_hasher(), bytearray(min(size, _WINDOW))
    view = memoryview(window)
    while size and (got := f.readinto(view[: min(size, _WINDOW)])):  # cut short since: the MAC tells
        hasher.update(view[:got])
        size -= got
    return hasher.digest()


def _mapped(f: BinaryIO, at: int, size: int) -> Records:
    """`size` bytes of the file from `at`, mapped read-only (nothing to map: empty bytes)."""
    return mmap.mmap(f.fileno(), size, offset=at, access=mmap.ACCESS_READ) if size else b""
