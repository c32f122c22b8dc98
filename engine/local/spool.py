"""The scan's spool: every entry a scan found, in tree order, in a temporary file.

A backup used to hold its scan as a tree of nodes in memory (~230 bytes a file: a million-file
folder held over 200 MB before a byte was read). The scan now writes each entry here as it
finds it, and the run reads the spool back, once to decide what to read and once to build the
trees (and once per checkpoint), so what it holds does not grow with the folder.

Tree order is depth first, each folder's entries in name order (raw bytes), a folder's entry
before everything under it: the order in which trees are built. `tree_key` turns a path into
bytes that sort in that order (`/`, which no name holds, becomes the lowest byte), so the files
cache, keyed that way, is read beside the spool as two sorted streams.

The file is unlinked as soon as it is made: nothing is left behind, even after kill -9.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import struct
import tempfile
from collections.abc import Iterator
from enum import IntEnum
from typing import NamedTuple

from engine.base.errors import LocalDiskFull

__all__ = [
    "Tag",
    "Entry",
    "Spool",
    "CLOUD_ONLY",
    "tree_key",
    "pack_meta",
    "META_SIZE",
    "STAT",
    "meta_mtime_ns",
    "meta_size",
    "meta_mode",
    "room_said",
]

_HEAD = struct.Struct("<BII")  # tag, path length, extra length; then meta, path, extra
STAT = struct.Struct("<QQqqQI")  # device, inode, mtime_ns, ctime_ns, size, mode
META_SIZE = STAT.size
_BLOCK = 1 << 18


class Tag(IntEnum):
    FILE = 1
    LINK = 2
    #: a folder: its entries follow, up to its LEAVE
    ENTER = 3
    LEAVE = 4
    #: a folder a partial scan did not list: its tree id in the previous snapshot (no entries follow)
    KEPT = 5


_TAGS = {t.value: t for t in Tag}
_FILE = Tag.FILE.value


class Entry(NamedTuple):
    tag: Tag
    path: bytes
    #: `pack_meta` of its lstat (empty for LEAVE)
    meta: bytes
    #: a link's target, a kept folder's tree id; `CLOUD_ONLY` for a file whose content is not on this computer
    extra: bytes = b""


#: the `extra` of a FILE whose content lives only in the cloud (an iCloud placeholder): never read
CLOUD_ONLY = b"\1"


@contextlib.contextmanager
def room_said() -> Iterator[None]:
    """A full temporary folder while the scan writes its lists, said in Backbeat's words."""
    try:
        yield
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        raise LocalDiskFull(
            "there is no room for the list of files to back up in the temporary folder",
            hint="Free some space on this computer's disk (the list needs about 100 bytes a file) and back up again.",
        ) from e


def pack_meta(st: os.stat_result) -> bytes:
    """What an entry keeps of its stat, as 44 bytes (a stat_result costs ~600): the files cache
    compares these bytes whole."""
    return STAT.pack(st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode)


def meta_mtime_ns(meta: bytes) -> int:
    return STAT.unpack_from(meta)[2]


def meta_size(meta: bytes) -> int:
    return STAT.unpack_from(meta)[4]


def meta_mode(meta: bytes) -> int:
    """Permission bits, as a tree entry stores them."""
    return stat.S_IMODE(STAT.unpack_from(meta)[5])


def tree_key(path: bytes) -> bytes:
    return path.replace(b"/", b"\0")


class Spool:
    """Written by one thread (the scan), then read by any number of readers, each with its own
    position (`os.pread`)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="backbeat-scan-")
        self.files = 0
        self.bytes = 0  # of the files
        self._written = False

    def close(self) -> None:
        self._file.close()

    def _put(self, tag: int, path: bytes, meta: bytes, extra: bytes = b"") -> None:
        try:  # not `with room_said()`: a context manager per entry costs a second at a million entries
            self._file.write(_HEAD.pack(tag, len(path), len(extra)) + meta + path + extra)
        except OSError as e:
            with room_said():
                raise e

    def file(self, path: bytes, st: os.stat_result) -> None:
        self.files += 1
        self.bytes += st.st_size
        self._put(_FILE, path, pack_meta(st))

    def cloud_only(self, path: bytes, st: os.stat_result) -> None:
        """A file whose content is not on this computer (reading it would download it)."""
        self.files += 1
        self.bytes += st.st_size
        self._put(_FILE, path, pack_meta(st), CLOUD_ONLY)

    def link(self, path: bytes, meta: bytes, target: bytes) -> None:
        self._put(Tag.LINK, path, meta, target)

    def enter(self, path: bytes, meta: bytes) -> None:
        self._put(Tag.ENTER, path, meta)

    def leave(self) -> None:
        self._put(Tag.LEAVE, b"", b"")

    def kept(self, path: bytes, meta: bytes, tree_id: bytes) -> None:
        self._put(Tag.KEPT, path, meta, tree_id)

    def finish(self) -> None:
        """The scan is done: what it wrote is readable."""
        self._file.flush()
        self._written = True

    def __iter__(self) -> Iterator[Entry]:
        assert self._written, "the spool is read only once the scan is done"
        fd = self._file.fileno()
        head, unpack, tags, leave, new = _HEAD.size, _HEAD.unpack_from, _TAGS, Tag.LEAVE.value, tuple.__new__
        buf, pos, offset = b"", 0, 0
        while True:
            if len(buf) - pos >= head:
                tag, plen, elen = unpack(buf, pos)
                at = pos + head
                meta_end = at if tag == leave else at + META_SIZE
                path_end = meta_end + plen
                end = path_end + elen
                if end <= len(buf):
                    # tuple.__new__: an Entry without NamedTuple's __new__, a Python call per entry
                    yield new(Entry, (tags[tag], buf[meta_end:path_end], buf[at:meta_end], buf[path_end:end]))
                    pos = end
                    continue
            block = os.pread(fd, _BLOCK, offset)
            if not block:
                if pos != len(buf):
                    raise OSError(errno.EIO, "the scan's temporary list of files ends in the middle of an entry")
                return
            offset += len(block)
            buf, pos = buf[pos:] + block, 0
