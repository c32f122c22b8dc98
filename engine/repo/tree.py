"""A tree blob: one directory, as canonical bytes.

Entries are sorted by name (raw bytes, so any file name the OS allows survives, UTF-8 or not)
and encoded in a fixed binary layout, so an unchanged directory encodes to the same bytes and
dedups to nothing. A file entry lists its content blob ids in order; a directory entry names
its subtree's id; a symlink keeps its target. Extended attributes ride along where the OS has them,
and since tree version 3 the rest of what the platform layer reads (`Metadata`: owner, creation
time, flags, ACL, hard-link identity). Version 1 trees (no metadata) stay readable.

A big folder is stored as parts (`TreeSplitter`): whole trees of a few thousand entries each, cut
after names chosen by a keyed hash, and a short list of them. So no folder is ever one huge blob,
a reader holds one part at a time, and one changed file in a folder of a million re-sends one
part, not the whole listing.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Container, Iterable, Iterator
from enum import IntEnum
from typing import NamedTuple

from engine.base.errors import IntegrityError
from engine.base.metadata import Metadata

__all__ = [
    "Kind",
    "TreeEntry",
    "Xattrs",
    "name_of",
    "encode_tree",
    "encode_entry",
    "entry_ids",
    "ids_known",
    "decode_tree",
    "decode_entry",
    "split_parts",
    "TreeSplitter",
    "encode_xattrs",
    "decode_xattrs",
]

_VERSION = 3  # what a writer writes: entries with their metadata
_PLAIN = 1  # entries without metadata (written until 2026-12)
_SPLIT = 2  # a folder stored as parts: the version byte of the list of them
_HEAD = struct.Struct("<BI")
_FIXED = struct.Struct("<BIqQHHHI")  # kind, mode, mtime_ns, size, name, target, xattr count, ids
_COUNT_AT = _FIXED.size - 4  # where the id count sits in an encoded entry
_XATTR = struct.Struct("<HI")
#: version 3, after the fixed part: u8 1 and this, or u8 0 (metadata not known)
_META = struct.Struct("<IIqIQQBBI")  # uid, gid, birth_ns, flags, link dev, link ino, user, group, acl lengths
_ID = 32


Xattrs = tuple[tuple[bytes, bytes], ...]


def encode_xattrs(xattrs: Xattrs) -> bytes:
    """Per attribute: u16 name length, u32 value length, name, value."""
    return b"".join(_XATTR.pack(len(k), len(v)) + k + v for k, v in xattrs)


def decode_xattrs(view: memoryview, pos: int = 0, count: int | None = None) -> tuple[Xattrs, int]:
    """(`count` attributes, or all up to the end of `view`; the position after them)."""
    out = []
    while (count is None and pos < len(view)) or (count is not None and len(out) < count):
        klen, vlen = _XATTR.unpack_from(view, pos)
        pos += _XATTR.size
        out.append((bytes(view[pos : pos + klen]), bytes(view[pos + klen : pos + klen + vlen])))
        pos += klen + vlen
    return tuple(out), pos


class Kind(IntEnum):
    FILE = 0
    DIR = 1
    SYMLINK = 2


class TreeEntry(NamedTuple):
    """One directory entry (a NamedTuple: a run builds one per file, so creation must be cheap)."""

    name: bytes
    kind: Kind
    mode: int
    mtime_ns: int
    size: int = 0
    target: bytes = b""
    xattrs: Xattrs = ()
    #: content blob ids for a file; the one subtree id for a directory.
    ids: tuple[bytes, ...] = ()
    #: owner, creation time, flags, ACL, hard-link identity; None when the tree did not keep them (version 1)
    meta: Metadata | None = None

    @property
    def subtree(self) -> bytes:
        return self.ids[0]


def name_of(path: bytes) -> bytes:
    """The last part of a path (a file's or folder's name in its tree)."""
    return path[path.rfind(b"/") + 1 :] or path


def encode_entry(e: TreeEntry) -> bytes:
    """One entry's bytes: the files cache keeps them, so an unchanged file costs no encoding."""
    fixed = _FIXED.pack(e.kind, e.mode, e.mtime_ns, e.size, len(e.name), len(e.target), len(e.xattrs), len(e.ids))
    m = e.meta
    if m is None:
        return b"".join((fixed, b"\0", e.name, e.target, encode_xattrs(e.xattrs), *e.ids))
    head = _META.pack(m.uid, m.gid, m.birth_ns, m.flags, m.link_dev, m.link_ino, len(m.user), len(m.group), len(m.acl))
    return b"".join((fixed, b"\1", head, e.name, e.target, m.user, m.group, m.acl, encode_xattrs(e.xattrs), *e.ids))


def _id_offsets(raw: bytes, start: int) -> range:
    """Where the blob ids of the entry encoded at `start` of `raw` begin: they end it."""
    count = int.from_bytes(raw[start + _COUNT_AT : start + _COUNT_AT + 4], "little")
    return range(len(raw) - count * _ID, len(raw), _ID)


def entry_ids(raw: bytes, start: int = 0) -> tuple[bytes, ...]:
    """The blob ids of an encoded entry (that begins at `start` of `raw`)."""
    return tuple(raw[i : i + _ID] for i in _id_offsets(raw, start))


def ids_known(raw: bytes, start: int, known: Container[bytes]) -> bool:
    """Whether every blob id of the entry encoded at `start` of `raw` is in `known`: the files
    cache's check, once per unchanged file, so a one-blob file costs one slice and one lookup."""
    offsets = _id_offsets(raw, start)
    if len(offsets) == 1:
        return raw[-_ID:] in known
    return all(raw[i : i + _ID] in known for i in offsets)


def encode_tree(entries: Iterable[TreeEntry]) -> bytes:
    """One whole tree, entries in any order (a backup builds its trees with `TreeSplitter`)."""
    return _whole([encode_entry(e) for e in sorted(entries, key=lambda e: e.name)])


def _whole(raws: list[bytes]) -> bytes:
    """A whole tree (or one part of a folder) from its encoded entries, in name order."""
    return b"".join((_HEAD.pack(_VERSION, len(raws)), *raws))


def _check_name(name: bytes, previous: bytes | None) -> None:
    """A tree is not trusted beyond its authentication: a name must be one path component, and
    names strictly increase (a duplicate could put a folder where a link was made, and lead a
    restore through it)."""
    if not name or name in (b".", b"..") or b"/" in name or b"\0" in name:
        raise IntegrityError(f"tree holds an unsafe name {name!r}")
    if previous is not None and name <= previous:
        raise IntegrityError(f"tree names are out of order or repeated at {name!r}")


def decode_tree(data: bytes) -> list[TreeEntry]:
    view = memoryview(data)
    try:
        version, count = _HEAD.unpack_from(view, 0)
        if version == _SPLIT:
            raise IntegrityError("tree is a list of parts where a part belongs")
        if version not in (_VERSION, _PLAIN):
            raise IntegrityError(f"tree has unknown version {version}")
        pos = _HEAD.size
        entries: list[TreeEntry] = []
        for _ in range(count):
            entry, pos = decode_entry(view, pos, version == _VERSION)
            _check_name(entry.name, entries[-1].name if entries else None)
            entries.append(entry)
    except (struct.error, ValueError) as e:
        raise IntegrityError(f"tree is malformed ({e})") from None
    if pos != len(view):
        raise IntegrityError("tree has trailing bytes")
    return entries


def decode_entry(view: memoryview, pos: int = 0, with_meta: bool = True) -> tuple[TreeEntry, int]:
    """The entry encoded at `pos` (as `encode_entry` writes it, or without metadata as version 1
    did); the position after it. Raises struct.error or ValueError on malformed bytes."""
    kind, mode, mtime, size, nlen, tlen, nx, nids = _FIXED.unpack_from(view, pos)
    pos += _FIXED.size
    meta = None
    if with_meta:
        known = view[pos]
        pos += 1
        if known not in (0, 1):
            raise ValueError(f"metadata marker {known}")
        if known:
            uid, gid, birth, flags, dev, ino, ulen, glen, alen = _META.unpack_from(view, pos)
            pos += _META.size
    name = bytes(view[pos : pos + nlen])
    pos += nlen
    target = bytes(view[pos : pos + tlen])
    pos += tlen
    if with_meta and known:
        user, group, acl = (bytes(view[a:b]) for a, b in _spans(pos, ulen, glen, alen))
        pos += ulen + glen + alen
        meta = Metadata(uid, gid, user, group, birth, flags, acl, dev, ino)
    xattrs, pos = decode_xattrs(view, pos, nx)
    ids = tuple(bytes(view[pos + i * _ID : pos + (i + 1) * _ID]) for i in range(nids))
    pos += nids * _ID
    if pos > len(view):
        raise ValueError("truncated entry")
    return TreeEntry(name, Kind(kind), mode, mtime, size, target, xattrs, ids, meta), pos


def _spans(pos: int, *lengths: int) -> Iterator[tuple[int, int]]:
    for n in lengths:
        yield pos, pos + n
        pos += n


#: A part ends after an entry whose name hashes to zero in these bits (one name in 4096), once it
#: holds `PART_MIN` entries (so a folder of up to that many is always whole); at the latest at
#: `PART_MAX` entries or `PART_MAX_BYTES`. Parts average ~8,000 entries, about 1 MB.
PART_MASK = 4095
PART_MIN = 4096
PART_MAX = 32768
PART_MAX_BYTES = 4 * 1024 * 1024


class TreeSplitter:
    """Builds one folder's tree from its entries, fed in name order, storing each part with `put`
    as soon as it is cut (a folder of a million entries never sits in memory whole). The cut
    points depend only on the names (and `seed`, from the key, so part sizes say nothing about
    names): a changed or added file changes its own part, the others dedup. A folder that
    makes one part is a plain tree, byte for byte what it always was."""

    def __init__(self, seed: int, put: Callable[[bytes], bytes]) -> None:
        self._seed = seed & 0xFFFFFFFF
        self._put = put
        self._part: list[bytes] = []
        self._bytes = 0
        self._last: bytes | None = None
        self._parts: list[bytes] = []

    def add(self, name: bytes, raw: bytes) -> None:
        """One entry (`raw` from `encode_entry`); names must strictly increase."""
        if self._last is not None and name <= self._last:
            raise ValueError(f"tree entries must come in name order ({name!r} after {self._last!r})")
        self._last = name
        self._part.append(raw)
        self._bytes += len(raw)
        n = len(self._part)
        if (n >= PART_MIN and not zlib.crc32(name, self._seed) & PART_MASK) or (
            n >= PART_MAX or self._bytes >= PART_MAX_BYTES
        ):
            self._cut()

    def _cut(self) -> None:
        self._parts.append(self._put(_whole(self._part)))
        self._part, self._bytes = [], 0

    def finish(self) -> bytes:
        """The folder's tree id."""
        if self._part or not self._parts:
            self._cut()
        if len(self._parts) == 1:
            return self._parts[0]
        return self._put(b"".join((_HEAD.pack(_SPLIT, len(self._parts)), *self._parts)))


def split_parts(data: bytes) -> tuple[bytes, ...] | None:
    """The part ids of a folder stored as parts, in name order; None for a folder stored whole."""
    try:
        version, count = _HEAD.unpack_from(data, 0)
    except struct.error:
        raise IntegrityError("tree is malformed (too short)") from None
    if version != _SPLIT:
        return None
    if count < 2 or len(data) != _HEAD.size + count * _ID:
        raise IntegrityError("tree's list of parts is malformed")
    return tuple(data[i : i + _ID] for i in range(_HEAD.size, len(data), _ID))
