"""Deduplicating blob storage: put(type, bytes) -> id, get(type, id) -> bytes.

A blob whose id is already known (indexed, or reserved by another thread in this run) is not
stored again. New blobs are sealed outside the lock (the compiled code releases the GIL, so
threads seal in parallel) and appended to the open pack of their type; data and trees go to
separate packs so that trees load fast. Packs are written straight into files that the
injected `outbox` opens, so a pack costs no memory; a full pack is finished and handed back to
the outbox, which reports through `pack_stored` once the pack is safely at the destination.
Only then do its blobs enter the index, so the index never names a pack that was not written.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from engine.backends.base import Backend, pack_name
from engine.base.errors import BackbeatError, IntegrityError, LocalDiskFull
from engine.repo.blob import BlobType, Compression, seal_blob
from engine.repo.crypto import MasterKey
from engine.repo.index import Index, IndexEntry, PackInfo, read_pack_header
from engine.repo.pack import PackEntry, PackWriter, open_span

__all__ = ["Sealed", "BlobStore", "PackOutbox", "DEFAULT_PACK_SIZE", "PACK_MAX_BLOBS"]

DEFAULT_PACK_SIZE = 8 * 1024 * 1024
#: a pack of tiny blobs ends here, whatever its size: its entries (and the reservations of its
#: blobs) are held until it is stored, and 8 MiB of 60-byte blobs is 140,000 of them
PACK_MAX_BLOBS = 16_384
_TREE_CACHE_BYTES = 64 * 1024 * 1024
#: wanted blobs of one pack further apart than this are fetched by separate ranged reads: a
#: request costs a round trip (~50 ms to a cloud: 600 kB at 100 Mbit/s), a gap read through its bytes
_GAP = 1 << 20


class PackOutbox(Protocol):
    """Where packs are written while they fill, and where they go once finished."""

    def new_pack(self) -> BinaryIO: ...

    def pack_finished(self, out: BinaryIO, pack_id: bytes, entries: list[PackEntry]) -> None:
        """Take over `out`; call `BlobStore.pack_stored` once the destination holds the pack."""
        ...


@dataclass(frozen=True)
class Sealed:
    blob_id: bytes
    type: BlobType
    compression: Compression
    data: bytes
    raw_length: int


class BlobStore:
    def __init__(
        self,
        key: MasterKey,
        index: Index,
        backend: Backend,
        outbox: PackOutbox | None = None,
        pack_size: int = DEFAULT_PACK_SIZE,
        mirrors: tuple[Backend, ...] = (),
    ) -> None:
        self.key = key
        self.index = index
        self.backend = backend
        self._outbox = outbox
        self._pack_size = pack_size
        self._lock = threading.Lock()
        self._reserved: set[bytes] = set()  # guarded by self._lock
        self._sent_off: set[bytes] = set()  # guarded by self._lock: in finished packs on their way
        #: a second lock, so that a thread writing into a pack never holds up `reserve`
        self._pack_lock = threading.Lock()
        self._open: dict[BlobType, PackWriter] = {}  # guarded by self._pack_lock
        self.new_blobs = 0  # guarded by self._pack_lock
        self.bytes_packed = 0  # guarded by self._pack_lock: sealed bytes of new blobs
        self.data_raw = 0  # guarded by self._pack_lock: file bytes those new data blobs hold
        self._tree_lock = threading.Lock()
        self._trees: dict[bytes, bytes] = {}  # guarded by self._tree_lock
        self._tree_bytes = 0  # guarded by self._tree_lock
        #: other destinations of the same repository, read when a pack here fails
        self.mirrors = mirrors
        #: pack id -> the mirror that supplied blobs this destination could not (guarded by self._lock)
        self.mended: dict[bytes, str] = {}

    # -- writing ---------------------------------------------------------------------------
    def blob_id(self, data: bytes | memoryview) -> bytes:
        return self.key.blob_id(data)

    def reserve(self, blob_id: bytes) -> bool:
        """True when the caller must store this blob; False when it is known or being stored."""
        with self._lock:
            if blob_id in self.index or blob_id in self._reserved:
                return False
            self._reserved.add(blob_id)
            return True

    def seal(self, blob_id: bytes, blob_type: BlobType, data: bytes | memoryview) -> Sealed:
        sealed, compression = seal_blob(self.key, blob_id, blob_type, data)
        return Sealed(blob_id, blob_type, compression, sealed, len(data))

    def add(self, sealed: Sealed) -> None:
        """Append a reserved, sealed blob to the open pack; a full pack goes to the outbox."""
        try:
            self._add(sealed)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):  # our disk, not the file being read: the run stops
                raise LocalDiskFull(f"writing a pack to {getattr(e, 'filename', None) or 'the outbox'}") from e
            raise

    def _add(self, sealed: Sealed) -> None:
        full = None
        with self._pack_lock:
            writer = self._open.get(sealed.type)
            if writer is None:
                writer = self._open[sealed.type] = PackWriter(self._require_outbox().new_pack())
            writer.add(sealed.blob_id, sealed.type, sealed.compression, sealed.data, sealed.raw_length)
            self.new_blobs += 1
            self.bytes_packed += len(sealed.data)
            if sealed.type == BlobType.DATA:
                self.data_raw += sealed.raw_length
            if len(writer) >= self._pack_size or len(writer.entries) >= PACK_MAX_BLOBS:
                full = self._open.pop(sealed.type)
        if full is not None:
            self._finish(full)

    def put(self, blob_type: BlobType, data: bytes | memoryview) -> bytes:
        blob_id = self.blob_id(data)
        if self.reserve(blob_id):
            self.add(self.seal(blob_id, blob_type, data))
        return blob_id

    def flush(self) -> None:
        """Finish every open pack (the end of a run, or a checkpoint)."""
        with self._pack_lock:
            writers = list(self._open.values())
            self._open.clear()
        for writer in writers:
            self._finish(writer)

    def _require_outbox(self) -> PackOutbox:
        if self._outbox is None:
            raise RuntimeError("this blob store is read-only")
        return self._outbox

    def _finish(self, writer: PackWriter) -> None:
        pack_id = writer.finish(self.key)
        with self._lock:
            self._sent_off.update(e.blob_id for e in writer.entries)
        self._require_outbox().pack_finished(writer.out, pack_id, writer.entries)

    def on_the_way(self) -> frozenset[bytes]:
        """Blobs in finished packs the outbox has not yet confirmed (a checkpoint waits for them)."""
        with self._lock:
            return frozenset(self._sent_off)

    def pack_stored(self, info: PackInfo) -> None:
        """The outbox's confirmation: the pack is at the destination, its blobs become known."""
        with self._lock:
            self.index.add_pack(info, pending=True)
            self._reserved.difference_update(e.blob_id for e in info.entries)
            self._sent_off.difference_update(e.blob_id for e in info.entries)

    # -- reading ---------------------------------------------------------------------------
    def _entry(self, blob_id: bytes) -> IndexEntry:
        entry = self.index.get(blob_id)
        if entry is None:
            raise IntegrityError(f"blob {blob_id.hex()[:16]} is not in the index")
        return entry

    def get(self, blob_type: BlobType, blob_id: bytes) -> bytes:
        entry = self._entry(blob_id)
        if entry.type != blob_type:
            raise IntegrityError(f"blob {blob_id.hex()[:16]} is a {entry.type.name}, not a {blob_type.name}")
        if blob_type == BlobType.TREE:
            return self._tree(blob_id, entry)
        for _, data in self.read_pack(entry.pack_id, [(blob_id, entry)]):
            if isinstance(data, IntegrityError):
                raise data
            return data
        raise AssertionError("read_pack yields every blob it is asked for")

    def _tree(self, blob_id: bytes, entry: IndexEntry) -> bytes:
        """Trees come a pack at a time: walking a snapshot in a bucket costs two or three requests
        per tree pack (its header, then its trees), not one per folder. Decoded trees are kept up
        to a budget (they are immutable)."""
        with self._tree_lock:
            if blob_id in self._trees:
                return self._trees[blob_id]
            wanted = self._trees_of(entry.pack_id)
            if all(bid != blob_id for bid, _ in wanted):
                wanted.append((blob_id, entry))
            if self._tree_bytes > _TREE_CACHE_BYTES:
                self._trees.clear()
                self._tree_bytes = 0
            failure: IntegrityError | None = None
            for bid, data in self.read_pack(entry.pack_id, wanted):
                if isinstance(data, IntegrityError):
                    failure = data if bid == blob_id else failure
                    continue
                self._trees[bid] = data
                self._tree_bytes += len(data)
            if blob_id not in self._trees:
                raise failure or IntegrityError(f"tree {blob_id.hex()[:16]} is not in its pack")
            return self._trees[blob_id]

    def _trees_of(self, pack_id: bytes) -> list[tuple[bytes, IndexEntry]]:
        """The trees a pack holds, as its own header lists them (here, or at a mirror): not found
        among all the index's blobs, a pass that cost 0.38 s for the story's home. Where no
        header can be read, none: the tree asked for is read alone."""
        for backend in (self.backend, *self.mirrors):
            try:
                info = read_pack_header(backend, self.key, pack_id, self.index.pack_sizes.get(pack_id))
            except BackbeatError as e:
                if e.kind == "transient" and not self.mirrors:
                    raise  # an outage is not damage: the caller's retry policy decides
                continue
            return [
                (e.blob_id, IndexEntry(pack_id, e.type, e.compression, e.offset, e.length, e.raw_length))
                for e in info.entries
                if e.type == BlobType.TREE
            ]
        return []

    def read_pack(
        self, pack_id: bytes, wanted: list[tuple[bytes, IndexEntry]]
    ) -> Iterator[tuple[bytes, bytes | IntegrityError]]:
        """Fetch the parts of one pack that hold `wanted`, each once (a ranged read per run of
        blobs closer than _GAP: restoring one file reads its bytes, not its pack); yield each blob
        or its error. Blobs that fail here (a damaged or missing pack) are fetched from the
        mirrors, if any."""
        failed: dict[bytes, IntegrityError] = {}
        for blob_id, data in self._read_spans(self.backend, pack_id, wanted):
            if isinstance(data, IntegrityError):
                failed[blob_id] = data
            else:
                yield blob_id, data
        for mirror in self.mirrors:
            if not failed:
                break
            for blob_id, data in self._read_spans(mirror, pack_id, [w for w in wanted if w[0] in failed]):
                if not isinstance(data, IntegrityError):
                    del failed[blob_id]
                    with self._lock:
                        self.mended[pack_id] = mirror.location
                    yield blob_id, data
        yield from failed.items()

    def _read_spans(
        self, backend: Backend, pack_id: bytes, wanted: list[tuple[bytes, IndexEntry]]
    ) -> Iterator[tuple[bytes, bytes | IntegrityError]]:
        ordered = sorted(wanted, key=lambda w: w[1].offset)
        first = 0
        for i in range(1, len(ordered) + 1):
            if i == len(ordered) or ordered[i][1].offset - _end(ordered[i - 1]) > _GAP:
                yield from self._read_span(backend, pack_id, ordered[first:i])
                first = i

    def _read_span(
        self, backend: Backend, pack_id: bytes, wanted: list[tuple[bytes, IndexEntry]]
    ) -> Iterator[tuple[bytes, bytes | IntegrityError]]:
        start = min(e.offset for _, e in wanted)
        end = max(_end(w) for w in wanted)
        try:
            span = memoryview(backend.get(pack_name(pack_id), start, end - start))
        except BackbeatError as e:
            if e.kind == "transient" and not self.mirrors:
                raise  # an outage is not damage: the caller's retry policy decides
            failure = IntegrityError(f"pack {pack_id.hex()[:16]} cannot be read at {backend.location} ({e})")
            yield from ((blob_id, failure) for blob_id, _ in wanted)
            return
        for blob_id, _entry, _sealed, opened in open_span(self.key, pack_id, span, start, wanted):
            yield blob_id, opened


def _end(wanted: tuple[bytes, IndexEntry]) -> int:
    """Where a wanted blob's bytes end in its pack."""
    return wanted[1].offset + wanted[1].length
