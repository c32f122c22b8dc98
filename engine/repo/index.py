"""The index: blob id -> (pack, offset, length), so a blob can be found without reading packs.

Index files (`index/<id>`) are sealed lists of packs and the blobs each holds. They are a
cache for speed, never the only record: every pack carries its own header, and `rebuild`
reconstructs the whole index from the packs alone. In memory the index is a packed table
(`engine.repo.blobtable`), which an empty index loads straight into, and a dict of the blobs
added since, folded in (`compact`) once they are many; packs added during a run stay *pending*
until an index file naming them is written. A table loaded from index files alone is what the
local cache saves (`packed`).
"""

from __future__ import annotations

import struct
import threading
from array import array
from collections.abc import Iterable, Iterator, Set
from itertools import chain
from typing import NamedTuple

from engine.backends.base import Backend, pack_name
from engine.base.errors import IntegrityError
from engine.repo.blob import BlobType, Compression
from engine.repo.blobtable import BlobTable, Records
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
    "Packed",
]

_AAD = b"backbeat index v1"
_VERSION = 1
_PACK = struct.Struct("<32sQI")  # pack id, pack size, blob count
_ENTRY = struct.Struct("<BB32sIII")
_PACK_PLACE = struct.Struct("<32sQ")  # a pack's id and size (Packed.packs)
_LOCATION = struct.Struct("<IBBIII")  # pack number, type, compression, offset, length, raw length
_TYPE_AT = 4  # the byte of a location that holds the blob's type
_ALTERNATE = struct.Struct(f"<32s{_LOCATION.size}s")  # a blob id and another place of it (Packed.alternates)
#: blobs added since the last compaction that make one worth its pass (~9 MiB of dict)
COMPACT_AFTER = 50_000


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


class Packed(NamedTuple):
    """An index as loaded from index files, and nothing else, in four byte strings: what the local
    cache saves of it (engine.local.savedindex), so the next run opens it without parsing or sorting."""

    #: by pack number: each pack's id and size (_PACK_PLACE)
    packs: bytes
    #: each other place a blob is stored: its id, then the location (_ALTERNATE)
    alternates: bytes
    #: the table's (engine.repo.blobtable)
    records: Records
    directory: array


class IndexBody(NamedTuple):
    """Packs waiting for an index file: their ids, and the index body that names them."""

    pack_ids: list[bytes]
    plain: bytes


def read_pack_header(backend: Backend, key: MasterKey, pack_id: bytes, size: int | None = None) -> PackInfo:
    """A pack's own header, read from its tail; `size`, when the index knows it, spares asking."""
    name = pack_name(pack_id)
    if size is None:
        size = backend.size(name)
    tail = backend.get(name, max(0, size - TAIL_GUESS))
    start, sealed = parse_trailer(tail, size)
    if sealed is None:
        sealed = backend.get(name, start, size - 4 - start)
    return PackInfo(pack_id, size, decode_header(key, pack_id, sealed, start))


class Index:
    """All known blobs, plus the packs not yet named by an index file.

    Compact, because it lives as long as the app: a blob costs its id and an 18-byte location
    (pack number, type, compression, offset, length, raw length), a bytes object each in the dict
    of recent blobs, packed in the table as loaded or once compacted; and a pending pack its index record.

    Readers take no lock: they look in `_recent`, then in `_table`, and a compaction puts the new
    table in place before it empties `_recent`, so every blob is in one or the other throughout.
    Changes take `_mutex`. A blob is in `_recent`, or in `_table` and not in its `gone`: never both."""

    def __init__(self) -> None:
        self._recent: dict[bytes, bytes] = {}  # blob id -> _LOCATION
        self._table = BlobTable(b"", _LOCATION.size)
        self._mutex = threading.Lock()
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
        if blob_id in self._recent:
            return True
        table = self._table
        return bool(table.records) and table.find(blob_id) >= 0 and blob_id not in table.gone

    def __len__(self) -> int:
        table = self._table
        return len(self._recent) + len(table) - len(table.gone)

    def _location(self, blob_id: bytes) -> bytes | None:
        loc = self._recent.get(blob_id)
        if loc is None and (table := self._table).records:
            i = table.find(blob_id)
            if i >= 0 and blob_id not in table.gone:
                return table.location(i)
        return loc

    def get(self, blob_id: bytes) -> IndexEntry | None:
        loc = self._location(blob_id)
        return None if loc is None else self._entry(loc)

    def _entry(self, loc: bytes) -> IndexEntry:
        number, t, c, offset, length, raw = _LOCATION.unpack(loc)
        return IndexEntry(self._pack_ids[number], self._types[t], self._compressions[c], offset, length, raw)

    def ids(self) -> Set[bytes]:
        return _Ids(self)

    def _locations(self) -> Iterator[tuple[bytes, bytes]]:
        return chain(list(self._recent.items()), self._table.items())

    def entries(self, kind: BlobType | None = None) -> Iterator[tuple[bytes, IndexEntry]]:
        """Every blob, or every blob of `kind` (told from its packed location, before an entry is made)."""
        for blob_id, loc in self._locations():
            if kind is None or loc[_TYPE_AT] == kind:
                yield blob_id, self._entry(loc)

    def _number(self, pack_id: bytes, size: int) -> int:
        self.pack_sizes[pack_id] = size
        number = self._pack_numbers.get(pack_id)
        if number is None:
            number = self._pack_numbers[pack_id] = len(self._pack_ids)
            self._pack_ids.append(pack_id)
        return number

    def add_plain(self, *plains: bytes) -> None:
        """Every pack of these index bodies (see index_plain): the fast path for loading the local
        cache. All their packs are numbered first: a pack's id lives as long as the index, and
        made between the blobs' it would keep the memory their dict or records free."""
        for plain in plains:
            for pack_id, size, _rows in _pack_spans(plain):
                self._number(pack_id, size)
        if not len(self) and not self._alternates:
            self._load_table(plains)
            return
        for plain in plains:
            for pack_id, size, rows in _pack_spans(plain):
                number, location = self._number(pack_id, size), _LOCATION.pack
                self._update({b: location(number, t, c, o, n, r) for t, c, b, o, n, r in _ENTRY.iter_unpack(rows)})

    def _load_table(self, plains: tuple[bytes, ...]) -> None:
        """An empty index loaded straight into its table: each blob one record (its id, then its
        location), sorted. A lower peak than a dict's, and no compaction to follow (the app's start
        with the story's home: 320 MiB at most, not 640). A blob stored in two packs keeps one
        place, the others become its alternates."""
        location, records = _LOCATION.pack, []
        for plain in plains:
            for pack_id, _size, rows in _pack_spans(plain):
                number = self._pack_numbers[pack_id]
                records += [b + location(number, t, c, o, n, r) for t, c, b, o, n, r in _ENTRY.iter_unpack(rows)]
        self._table, repeats = BlobTable.of_records(records, _LOCATION.size)
        for blob_id, loc in repeats:
            self._alternates.setdefault(blob_id, []).append(loc)

    def worth_compacting(self, at_least: int | None = None) -> bool:
        """Whether the blobs added (or dropped) since the table was built number `at_least`
        (COMPACT_AFTER): enough to be worth a pass over it."""
        return max(len(self._recent), len(self._table.gone)) >= max(COMPACT_AFTER if at_least is None else at_least, 1)

    def settled(self) -> bool:
        """Every blob in the table, none removed since, no pack pending: what `packed` saves."""
        with self._lock:
            return not (self._recent or self._table.gone or self._pending)

    def packed(self) -> Packed:
        """This index, freshly loaded (or compacted) from index files, to save."""
        if not self.settled():
            raise ValueError("only an index loaded from index files alone is saved")
        table = self._table
        place = _PACK_PLACE.pack
        return Packed(
            b"".join([place(pack_id, self.pack_sizes[pack_id]) for pack_id in self._pack_ids]),
            b"".join([_ALTERNATE.pack(blob_id, loc) for blob_id, locs in self._alternates.items() for loc in locs]),
            table.records,
            table.directory,
        )

    def hold_records(self, records: Records) -> None:
        """The table's records replaced by the same bytes mapped from the saved index, where `packed`
        put them: pages the system can drop and read again, no longer memory of this process's own."""
        with self._mutex:
            table = self._table
            if not self.settled() or len(records) != len(table.records):
                raise ValueError("only the records this index saved are held instead of its own")
            self._table = BlobTable(records, table.size, table.directory)

    def release_pages(self) -> None:
        """At idle: the table's mapped pages are no memory of this process's (BlobTable.release_pages)."""
        self._table.release_pages()

    def add_packed(self, packed: Packed) -> None:
        """An empty index becomes a saved one (`packed`)."""
        if self._pack_ids or len(self):
            raise ValueError("a saved index is loaded first")
        for pack_id, size in _PACK_PLACE.iter_unpack(packed.packs):
            self._number(pack_id, size)
        for blob_id, loc in _ALTERNATE.iter_unpack(packed.alternates):
            self._alternates.setdefault(blob_id, []).append(loc)
        self._table = BlobTable(packed.records, _LOCATION.size, packed.directory)

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
        """Add blobs; one already known elsewhere keeps both places (set operations: loading stays
        fast). One in the table moves to `_recent`: it is there before it is gone from the table."""
        with self._mutex:
            recent, table = self._recent, self._table
            for blob_id in locations.keys() & recent.keys():
                if recent[blob_id] != locations[blob_id]:
                    self._alternates.setdefault(blob_id, []).append(recent[blob_id])
            recent.update(locations)
            if len(table) > len(table.gone):
                for blob_id, loc in locations.items():
                    i = table.find(blob_id)
                    if i >= 0 and blob_id not in table.gone:
                        if table.location(i) != loc:
                            self._alternates.setdefault(blob_id, []).append(table.location(i))
                        table.gone.add(blob_id)

    def discard(self, blob_ids: Iterable[bytes]) -> None:
        with self._mutex:
            table = self._table
            for blob_id in blob_ids:
                self._recent.pop(blob_id, None)
                self._alternates.pop(blob_id, None)
                if table.find(blob_id) >= 0:
                    table.gone.add(blob_id)

    def compact(self, at_least: int | None = None) -> bool:
        """Pack the blobs added (and drop those removed) since the last compaction into the table,
        once there are `at_least` of them (COMPACT_AFTER); True if it did: a load that added many
        to a saved index (it is then saved again)."""
        with self._mutex:
            if not self.worth_compacting(at_least):
                return False
            self._table = self._table.merged(self._recent)
            self._recent = {}
            return True

    def drop_packs(self, pack_ids: set[bytes], keep_unplaced: bool = False) -> int:
        """Forget packs that are lost at the destination: their blobs fall back to another place
        they are stored, or are forgotten (the next backup stores them again); with
        `keep_unplaced`, a blob stored nowhere else keeps its place (a restore reads it from
        another destination). Returns how many blobs have no other place."""
        numbers = {self._pack_numbers[p] for p in pack_ids if p in self._pack_numbers}

        def lost(loc: bytes) -> bool:
            return _LOCATION.unpack_from(loc)[0] in numbers

        gone = []
        for blob_id, loc in list(self._locations()):
            if not lost(loc):
                continue
            elsewhere = [alt for alt in self._alternates.pop(blob_id, ()) if not lost(alt)]
            if elsewhere:
                self._update({blob_id: elsewhere[0]})
                self._alternates.pop(blob_id, None)  # the lost place is no alternate
                if elsewhere[1:]:
                    self._alternates[blob_id] = elsewhere[1:]
            else:
                gone.append(blob_id)
        with self._mutex:  # nor is a lost place another blob's fallback, when its own pack goes later
            for blob_id in [b for b, alts in self._alternates.items() if any(map(lost, alts))]:
                if kept := [alt for alt in self._alternates[blob_id] if not lost(alt)]:
                    self._alternates[blob_id] = kept
                else:
                    del self._alternates[blob_id]
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


class _Ids(Set):
    """The index's blob ids, as a set to test against (and to subtract from another)."""

    def __init__(self, index: Index) -> None:
        self._index = index

    @classmethod
    def _from_iterable(cls, it: Iterable[bytes]) -> set[bytes]:
        """What set operations with it give: a plain set."""
        return set(it)

    def __contains__(self, blob_id: object) -> bool:
        return isinstance(blob_id, bytes) and blob_id in self._index

    def __iter__(self) -> Iterator[bytes]:
        return (blob_id for blob_id, _ in self._index._locations())

    def __len__(self) -> int:
        return len(self._index)


def _pack_records(plain: bytes) -> Iterator[bytes]:
    view = memoryview(plain)
    pos = 1
    for _pack_id, _size, rows in _pack_spans(plain):
        end = pos + _PACK.size + len(rows)
        yield bytes(view[pos:end])
        pos = end
