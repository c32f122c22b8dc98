"""The index: blob id -> (pack, offset, length), so a blob can be found without reading packs.

Index files (`index/<id>`) are sealed lists of packs and the blobs each holds. They are a
cache for speed, never the only record: every pack carries its own header, and `rebuild`
reconstructs the whole index from the packs alone. In memory the index is one dict; packs
added during a run stay *pending* until an index file naming them is written.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Iterator, KeysView
from typing import NamedTuple

from engine.backends.base import Backend, pack_name
from engine.base.errors import IntegrityError
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
    "parse_index",
    "IndexBody",
]

_AAD = b"backbeat index v1"
_VERSION = 1
_PACK = struct.Struct("<32sQI")  # pack id, pack size, blob count
_ENTRY = struct.Struct("<BB32sIII")
_LOCATION = struct.Struct("<IBBIII")  # pack number, type, compression, offset, length, raw length


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
    return bytes([_VERSION]) + b"".join(_pack_record(p) for p in packs)


def _pack_record(info: PackInfo) -> bytes:
    row = _ENTRY.pack
    rows = b"".join(row(e.type, e.compression, e.blob_id, e.offset, e.length, e.raw_length) for e in info.entries)
    return _PACK.pack(info.pack_id, info.size, len(info.entries)) + rows


def encode_index(key: MasterKey, plain: bytes) -> tuple[str, bytes]:
    """Returns (object name, sealed bytes) of one index file with this body."""
    data = key.seal(plain, _AAD)
    return f"index/{plain_hash(data).hex()}", data


def open_index(key: MasterKey, data: bytes) -> bytes:
    """An index file's body, authenticated and its structure checked (IntegrityError otherwise)."""
    plain = key.open(data, _AAD, "index file")
    for _ in _pack_spans(plain):
        pass
    return plain


def parse_index(plain: bytes) -> Iterator[PackInfo]:
    for pack_id, size, rows in _pack_spans(plain):
        entries = [PackEntry(b, BlobType(t), Compression(c), o, n, r) for t, c, b, o, n, r in _ENTRY.iter_unpack(rows)]
        yield PackInfo(pack_id, size, entries)


def decode_index(key: MasterKey, data: bytes) -> Iterator[PackInfo]:
    return parse_index(open_index(key, data))


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


class IndexBody(NamedTuple):
    """Packs waiting for an index file: their ids, and the index body that names them."""

    pack_ids: list[bytes]
    plain: bytes


def read_pack_header(backend: Backend, key: MasterKey, pack_id: bytes) -> PackInfo:
    """A pack's own header, read from its tail."""
    name = pack_name(pack_id)
    size = backend.size(name)
    tail = backend.get(name, max(0, size - TAIL_GUESS))
    start, sealed = parse_trailer(tail, size)
    if sealed is None:
        sealed = backend.get(name, start, size - 4 - start)
    return PackInfo(pack_id, size, decode_header(key, pack_id, sealed, start))


class Index:
    """All known blobs, plus the packs not yet named by an index file.

    Compact, because it lives through a whole run beside the scan: a blob costs its id and an
    18-byte location (pack number, type, compression, offset, length, raw length), and a pending
    pack its index record, not a tuple of Python ints per blob (200,000 blobs: 36 MiB less)."""

    def __init__(self) -> None:
        self._blobs: dict[bytes, bytes] = {}  # blob id -> _LOCATION
        #: blob id -> other places it is stored (a blob stored again after its pack was lost): when
        #: a pack is dropped, its blobs fall back to these, whatever order the index files loaded in
        self._alternates: dict[bytes, list[bytes]] = {}
        self._pack_ids: list[bytes] = []  # pack number -> pack id
        self._pack_numbers: dict[bytes, int] = {}
        self.pack_sizes: dict[bytes, int] = {}
        #: the index files whose packs it holds (a prune elsewhere replaces them: engine.jobs.session)
        self.files: set[str] = set()
        self._pending: list[tuple[bytes, bytes]] = []  # (pack id, index record); guarded by self._lock
        #: writers add packs while a checkpoint takes the pending ones
        self._lock = threading.Lock()
        self._types = {int(t): t for t in BlobType}
        self._compressions = {int(c): c for c in Compression}

    def __contains__(self, blob_id: bytes) -> bool:
        return blob_id in self._blobs

    def __len__(self) -> int:
        return len(self._blobs)

    def get(self, blob_id: bytes) -> IndexEntry | None:
        loc = self._blobs.get(blob_id)
        return None if loc is None else self._entry(loc)

    def _entry(self, loc: bytes) -> IndexEntry:
        number, t, c, offset, length, raw = _LOCATION.unpack(loc)
        return IndexEntry(self._pack_ids[number], self._types[t], self._compressions[c], offset, length, raw)

    def ids(self) -> KeysView[bytes]:
        return self._blobs.keys()

    def entries(self) -> Iterator[tuple[bytes, IndexEntry]]:
        for blob_id, loc in self._blobs.items():
            yield blob_id, self._entry(loc)

    def _number(self, pack_id: bytes, size: int) -> int:
        self.pack_sizes[pack_id] = size
        number = self._pack_numbers.get(pack_id)
        if number is None:
            number = self._pack_numbers[pack_id] = len(self._pack_ids)
            self._pack_ids.append(pack_id)
        return number

    def add_plain(self, plain: bytes) -> None:
        """Every pack of an index body (see index_plain): the fast path for loading the local cache."""
        for pack_id, size, rows in _pack_spans(plain):
            number, location = self._number(pack_id, size), _LOCATION.pack
            self._update({b: location(number, t, c, o, n, r) for t, c, b, o, n, r in _ENTRY.iter_unpack(rows)})

    def add_pack(self, info: PackInfo, *, pending: bool) -> None:
        number, location = self._number(info.pack_id, info.size), _LOCATION.pack
        self._update(
            {e.blob_id: location(number, e.type, e.compression, e.offset, e.length, e.raw_length) for e in info.entries}
        )
        if pending:
            record = _pack_record(info)
            with self._lock:
                self._pending.append((info.pack_id, record))

    def _update(self, locations: dict[bytes, bytes]) -> None:
        """Add blobs; one already known elsewhere keeps both places (set operations: loading stays fast)."""
        blobs = self._blobs
        for blob_id in locations.keys() & blobs.keys():
            if blobs[blob_id] != locations[blob_id]:
                self._alternates.setdefault(blob_id, []).append(blobs[blob_id])
        blobs.update(locations)

    def discard(self, blob_ids: Iterable[bytes]) -> None:
        for blob_id in blob_ids:
            self._blobs.pop(blob_id, None)
            self._alternates.pop(blob_id, None)

    def drop_packs(self, pack_ids: set[bytes], keep_unplaced: bool = False) -> int:
        """Forget packs that are lost at the destination: their blobs fall back to another place
        they are stored, or are forgotten (the next backup stores them again); with
        `keep_unplaced`, a blob stored nowhere else keeps its place (a restore reads it from
        another destination). Returns how many blobs have no other place."""
        numbers = {self._pack_numbers[p] for p in pack_ids if p in self._pack_numbers}

        def lost(loc: bytes) -> bool:
            return _LOCATION.unpack_from(loc)[0] in numbers

        gone = []
        for blob_id, loc in list(self._blobs.items()):
            if not lost(loc):
                continue
            elsewhere = [alt for alt in self._alternates.pop(blob_id, ()) if not lost(alt)]
            if elsewhere:
                self._blobs[blob_id] = elsewhere[0]
                if elsewhere[1:]:
                    self._alternates[blob_id] = elsewhere[1:]
            else:
                gone.append(blob_id)
        if keep_unplaced:
            return len(gone)
        self.discard(gone)
        for pack_id in pack_ids:
            self.pack_sizes.pop(pack_id, None)
        return len(gone)

    def packs(self) -> dict[bytes, list[tuple[bytes, IndexEntry]]]:
        """pack id -> its blobs, for check and restore planning."""
        out: dict[bytes, list[tuple[bytes, IndexEntry]]] = {}
        for blob_id, e in self.entries():
            out.setdefault(e.pack_id, []).append((blob_id, e))
        return out

    def has_pending(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def take_pending(self) -> IndexBody:
        with self._lock:
            pending, self._pending = self._pending, []
        return IndexBody([p for p, _ in pending], bytes([_VERSION]) + b"".join(r for _, r in pending))

    def return_pending(self, body: IndexBody) -> None:
        """Packs whose index file could not be written stay pending for the next try."""
        records = [(p, r) for p, r in zip(body.pack_ids, _pack_records(body.plain), strict=True)]
        with self._lock:
            self._pending[:0] = records


def _pack_records(plain: bytes) -> Iterator[bytes]:
    view = memoryview(plain)
    pos = 1
    for _pack_id, _size, rows in _pack_spans(plain):
        end = pos + _PACK.size + len(rows)
        yield bytes(view[pos:end])
        pos = end
