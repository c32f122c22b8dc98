"""The index: blob id -> (pack, offset, length), so a blob can be found without reading packs.

Index files (`index/<id>`) are sealed lists of packs and the blobs each holds. They are a
cache for speed, never the only record: every pack carries its own header, and `rebuild`
reconstructs the whole index from the packs alone. In memory the index is one dict; packs
added during a run stay *pending* until an index file naming them is written.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from engine.backends.base import Backend, pack_name
from engine.errors import IntegrityError
from engine.repo.blob import BlobType, Compression
from engine.repo.crypto import MasterKey, plain_hash
from engine.repo.pack import TAIL_GUESS, PackEntry, decode_header, parse_trailer

__all__ = [
    "IndexEntry",
    "PackInfo",
    "Index",
    "read_pack_header",
    "encode_index",
    "decode_index",
    "index_plain",
    "open_index",
]

_AAD = b"backbeat index v1"
_VERSION = 1
_PACK = struct.Struct("<32sQI")  # pack id, pack size, blob count
_ENTRY = struct.Struct("<BB32sIII")


class PackInfo(NamedTuple):
    """One pack as an index file records it: its id, its size in bytes, and its blobs."""

    pack_id: bytes
    size: int
    entries: list[PackEntry]


class IndexEntry(NamedTuple):
    pack_id: bytes
    type: BlobType
    compression: Compression
    offset: int
    length: int
    raw_length: int


def index_plain(packs: Iterable[PackInfo]) -> bytes:
    """The unsealed body of an index file: what the local cache keeps, so loading it is one parse."""
    plain = bytearray([_VERSION])
    for pack_id, size, entries in packs:
        plain += _PACK.pack(pack_id, size, len(entries))
        for e in entries:
            plain += _ENTRY.pack(e.type, e.compression, e.blob_id, e.offset, e.length, e.raw_length)
    return bytes(plain)


def encode_index(key: MasterKey, packs: Iterable[PackInfo]) -> tuple[str, bytes]:
    """Returns (object name, sealed bytes) of one index file."""
    data = key.seal(index_plain(packs), _AAD)
    return f"index/{plain_hash(data).hex()}", data


def open_index(key: MasterKey, data: bytes) -> bytes:
    """An index file's body, authenticated and its structure checked (IntegrityError otherwise)."""
    plain = key.open(data, _AAD, "index file")
    for _ in _pack_spans(plain):
        pass
    return plain


def decode_index(key: MasterKey, data: bytes) -> Iterator[PackInfo]:
    plain = open_index(key, data)
    for pack_id, size, rows in _pack_spans(plain):
        entries = [PackEntry(b, BlobType(t), Compression(c), o, n, r) for t, c, b, o, n, r in _ENTRY.iter_unpack(rows)]
        yield PackInfo(pack_id, size, entries)


def _pack_spans(plain: bytes) -> Iterator[tuple[bytes, int, memoryview]]:
    """(pack id, pack size, its packed blob rows) for each pack an index body names."""
    view = memoryview(plain)
    if not view or view[0] != _VERSION:
        raise IntegrityError("index file has an unknown version")
    pos = 1
    while pos < len(view):
        if pos + _PACK.size > len(view):
            raise IntegrityError("index file is truncated")
        pack_id, size, count = _PACK.unpack_from(view, pos)
        pos += _PACK.size
        end = pos + count * _ENTRY.size
        if end > len(view):
            raise IntegrityError("index file is truncated")
        yield pack_id, size, view[pos:end]
        pos = end


def read_pack_header(backend: Backend, key: MasterKey, pack_id: bytes) -> PackInfo:
    """A pack's own header, read from its tail."""
    name = pack_name(pack_id)
    size = backend.size(name)
    tail = backend.get(name, max(0, size - TAIL_GUESS))
    start, sealed = parse_trailer(tail, size)
    if sealed is None:
        sealed = backend.get(name, start, size - 4 - start)
    return PackInfo(pack_id, size, decode_header(key, sealed, start))


class Index:
    """All known blobs, plus the packs not yet named by an index file."""

    def __init__(self) -> None:
        self.blobs: dict[bytes, IndexEntry] = {}
        self.pack_sizes: dict[bytes, int] = {}
        self.pending: list[PackInfo] = []  # guarded by self._lock
        #: writers add packs while a checkpoint takes the pending ones
        self._lock = threading.Lock()

    def __contains__(self, blob_id: bytes) -> bool:
        return blob_id in self.blobs

    def __len__(self) -> int:
        return len(self.blobs)

    def get(self, blob_id: bytes) -> IndexEntry | None:
        return self.blobs.get(blob_id)

    def add_plain(self, plain: bytes) -> None:
        """Every pack of an index body (see index_plain): the fast path for loading the local cache."""
        types, comps = {int(t): t for t in BlobType}, {int(c): c for c in Compression}
        for pack_id, size, rows in _pack_spans(plain):
            self.blobs.update(
                (b, IndexEntry(pack_id, types[t], comps[c], o, n, r)) for t, c, b, o, n, r in _ENTRY.iter_unpack(rows)
            )
            self.pack_sizes[pack_id] = size

    def add_pack(self, info: PackInfo, *, pending: bool) -> None:
        pack_id = info.pack_id
        for e in info.entries:
            self.blobs[e.blob_id] = IndexEntry(pack_id, e.type, e.compression, e.offset, e.length, e.raw_length)
        self.pack_sizes[pack_id] = info.size
        if pending:
            with self._lock:
                self.pending.append(info)

    def packs(self) -> dict[bytes, list[tuple[bytes, IndexEntry]]]:
        """pack id -> its blobs, for check and restore planning."""
        out: dict[bytes, list[tuple[bytes, IndexEntry]]] = {}
        for blob_id, e in self.blobs.items():
            out.setdefault(e.pack_id, []).append((blob_id, e))
        return out

    def take_pending(self) -> list[PackInfo]:
        with self._lock:
            pending, self.pending = self.pending, []
        return pending

    def return_pending(self, packs: list[PackInfo]) -> None:
        """Packs whose index file could not be written stay pending for the next try."""
        with self._lock:
            self.pending[:0] = packs
