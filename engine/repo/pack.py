"""The pack: many sealed blobs in one object, describing itself.

Layout: sealed blobs back to back, then the sealed header, then the header's length (4 bytes,
little-endian). The header lists, per blob: type, compression, id, offset, stored length and
plaintext length. Because every pack carries its own header, the index can always be rebuilt
from the packs alone. A pack's name is an unkeyed BLAKE3, so any destination can verify a pack
without the key: in format 2 of the bytes before the sealed header, and the header is sealed
with that name in its associated data, so a header opens only in the pack it describes (one
grafted onto other bytes, or read from the tail of another object, does not); in format 1 of
all the pack's bytes, with a constant associated data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple, Protocol

from engine.base.errors import IntegrityError
from engine.repo.blob import BlobType, Compression, open_blob
from engine.repo.crypto import MasterKey, named_by_content, plain_hash, plain_hasher

__all__ = [
    "PackEntry",
    "PackWriter",
    "open_span",
    "parse_trailer",
    "decode_header",
    "holds_pack",
    "matches_name",
    "TAIL_GUESS",
]

_HEADER_AAD_V1 = b"backbeat pack header v1"
_HEADER_AAD = b"backbeat pack header v2"  # then the pack's 32-byte id
_VERSION = 1
_ENTRY = struct.Struct("<BB32sIII")
_LEN = struct.Struct("<I")
#: how much of a pack's end to fetch at first: enough for the header of a typical pack.
TAIL_GUESS = 64 * 1024
_PIECE = 1 << 20  # a pack is hashed and written this much at a time (PackWriter)


class PackEntry(NamedTuple):
    blob_id: bytes
    type: BlobType
    compression: Compression
    offset: int
    length: int
    raw_length: int


class PackWriter:
    """Streams sealed blobs into `out` (a file in the outbox); `finish` appends the sealed header and names it.

    Nothing is held in memory but the entries and the last `_PIECE` bytes: a pack costs no RAM
    however big it grows. Its name is hashed as the bytes go out, which costs less than reading
    them back; a piece at a time, since each hash call hands the GIL over, and a small file's blob
    is a few kilobytes (with helper processes reading small files, engine.jobs.smallfiles, a call a
    blob was a seventh of the reading thread's time, waiting to take the GIL back).
    """

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self._hash = plain_hasher()
        self._size = 0
        self._piece = bytearray()
        self.entries: list[PackEntry] = []

    def __len__(self) -> int:
        return self._size

    def _write(self, data: bytes) -> None:
        self._piece += data
        self._size += len(data)
        if len(self._piece) >= _PIECE:
            self._flush()

    def _flush(self) -> None:
        self.out.write(self._piece)
        self._hash.update(self._piece)
        self._piece.clear()

    def add(
        self, blob_id: bytes, blob_type: BlobType, compression: Compression, sealed: bytes, raw_length: int
    ) -> PackEntry:
        entry = PackEntry(blob_id, blob_type, compression, self._size, len(sealed), raw_length)
        self._write(sealed)
        self.entries.append(entry)
        return entry

    def finish(self, key: MasterKey) -> bytes:
        """Append the sealed header and its length; returns the pack id."""
        self._flush()  # the name covers every blob
        header = bytearray([_VERSION])
        for e in self.entries:
            header += _ENTRY.pack(e.type, e.compression, e.blob_id, e.offset, e.length, e.raw_length)
        pack_id = self._hash.digest() if key.format >= 2 else None  # format 1: the name covers the header
        sealed = key.seal(bytes(header), _header_aad(key, pack_id))
        self._write(sealed)
        self._write(_LEN.pack(len(sealed)))
        self._flush()
        self.out.flush()
        return pack_id or self._hash.digest()


def _header_aad(key: MasterKey, pack_id: bytes | None) -> bytes:
    return _HEADER_AAD_V1 if key.format == 1 else _HEADER_AAD + pack_id


class Located(Protocol):
    """Where a blob lies in its pack and how it was sealed (an index entry, or a header's)."""

    type: BlobType
    compression: Compression
    offset: int
    length: int
    raw_length: int


def open_span(
    key: MasterKey, pack_id: bytes, span: bytes | memoryview, start: int, wanted: Iterable[tuple[bytes, Located]]
) -> Iterator[tuple[bytes, Located, bytes | memoryview, bytes | IntegrityError]]:
    """The wanted blobs of one read of a pack (its bytes from offset `start`), each with its sealed
    bytes and its plaintext, verified, or the error that says why not (cut short, damaged). The
    one place a pack is read into blobs: restore, prune's repacking and check all come here."""
    for blob_id, e in wanted:
        piece = span[e.offset - start : e.offset - start + e.length]
        try:
            if len(piece) != e.length:
                raise IntegrityError(f"pack {pack_id.hex()[:16]} is truncated")
            opened: bytes | IntegrityError = open_blob(key, blob_id, e.type, e.compression, piece, e.raw_length)
        except IntegrityError as err:
            opened = err
        yield blob_id, e, piece, opened


def parse_trailer(tail: bytes, pack_size: int) -> tuple[int, bytes | None]:
    """From the last bytes of a pack: (offset of the sealed header, its bytes if `tail` holds them)."""
    if len(tail) < _LEN.size:
        raise IntegrityError("pack is too short to hold a header")
    (hlen,) = _LEN.unpack(tail[-_LEN.size :])
    start = pack_size - _LEN.size - hlen
    if hlen == 0 or start < 0:
        raise IntegrityError("pack header length is out of range")
    if hlen + _LEN.size <= len(tail):
        return start, tail[-_LEN.size - hlen : -_LEN.size]
    return start, None


def decode_header(key: MasterKey, pack_id: bytes, sealed_header: bytes, header_offset: int) -> list[PackEntry]:
    """The entries of the header of the pack named `pack_id`."""
    plain = key.open(sealed_header, _header_aad(key, pack_id), "pack header")
    if not plain or plain[0] != _VERSION or (len(plain) - 1) % _ENTRY.size:
        raise IntegrityError("pack header is malformed")
    entries = []
    for t, c, blob_id, off, length, raw in _ENTRY.iter_unpack(memoryview(plain)[1:]):
        if off + length > header_offset:
            raise IntegrityError("pack header points past the blobs")
        entries.append(PackEntry(blob_id, BlobType(t), Compression(c), off, length, raw))
    return entries


def holds_pack(pack_id: bytes, data: bytes | memoryview) -> bool:
    """Whether `data` is the pack named `pack_id` (either format's naming: a hash collision apart,
    no pack matches both)."""
    if len(data) >= _LEN.size:
        (hlen,) = _LEN.unpack(data[-_LEN.size :])
        body = len(data) - _LEN.size - hlen
        if 0 <= body and plain_hash(memoryview(data)[:body]) == pack_id:
            return True
    return plain_hash(data) == pack_id


def matches_name(name: str, data: bytes | memoryview) -> bool:
    """Whether `data` is the repository object `name` (a pack, or any object named by the hash of its bytes)."""
    if name.startswith("data/"):
        return holds_pack(bytes.fromhex(name.rsplit("/", 1)[-1]), data)
    return named_by_content(name, data)
