"""One blob <-> its stored bytes: zstd (or raw when it does not pay), then AES-256-GCM.

A blob is a chunk of file data or one encoded directory tree. Its id is the keyed BLAKE3 of
its plaintext. The associated data of the seal is the id, the type and the compression, so a
stored blob cannot be passed off as another, and `open_blob` checks the id against the
plaintext again: what comes out is exactly what went in, or an IntegrityError.
The only importer of `zstandard`; compressors are per thread (they are not thread-safe).
"""

from __future__ import annotations

import threading
from enum import IntEnum

import zstandard

from engine.base.errors import IntegrityError
from engine.repo.crypto import MasterKey

__all__ = ["BlobType", "Compression", "seal_blob", "open_blob", "ZSTD_LEVEL", "MAX_BLOB"]

ZSTD_LEVEL = 2
#: the most any blob holds: the largest chunk `config` may ask for (engine.repo.repository), and
#: tree parts are far smaller
MAX_BLOB = 64 << 20
_SAMPLE = 16 * 1024
_TRIAL_ABOVE = 256 * 1024


class BlobType(IntEnum):
    DATA = 0
    TREE = 1


class Compression(IntEnum):
    RAW = 0
    ZSTD = 1


_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache = _local.__dict__.setdefault("compressors", {})
    if level not in cache:
        cache[level] = zstandard.ZstdCompressor(level=level)
    return cache[level]


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_local, "decompressor"):
        _local.decompressor = zstandard.ZstdDecompressor()
    return _local.decompressor


def _looks_incompressible(data: bytes | memoryview) -> bool:
    """A level-1 trial on three 16 KiB samples: far cheaper than compressing a whole photo."""
    n = len(data)
    if n <= _TRIAL_ABOVE:
        return False
    view = memoryview(data)
    mid = n // 2
    sample = b"".join((view[:_SAMPLE], view[mid : mid + _SAMPLE], view[n - _SAMPLE :]))
    return len(_compressor(1).compress(sample)) > len(sample) * 0.95


def _aad(blob_id: bytes, blob_type: BlobType, compression: Compression) -> bytes:
    return blob_id + bytes((blob_type, compression))


def seal_blob(
    key: MasterKey, blob_id: bytes, blob_type: BlobType, data: bytes | memoryview
) -> tuple[bytes, Compression]:
    """Compress when it pays (saves more than 1/32), then encrypt with the id as associated data."""
    payload: bytes | memoryview = data
    compression = Compression.RAW
    if len(data) >= 64 and not _looks_incompressible(data):
        packed = _compressor(ZSTD_LEVEL).compress(data)
        if len(packed) < len(data) - len(data) // 32:
            payload, compression = packed, Compression.ZSTD
    return key.seal(payload, _aad(blob_id, blob_type, compression)), compression


def open_blob(
    key: MasterKey,
    blob_id: bytes,
    blob_type: BlobType,
    compression: Compression,
    sealed: bytes | memoryview,
    raw_length: int = MAX_BLOB,
) -> bytes:
    """The blob's plaintext, never more than `raw_length` bytes (its recorded length): a frame that
    claims or makes more is damage, refused before it is unpacked into memory."""
    what = f"{blob_type.name.lower()} blob {blob_id.hex()[:16]}"
    payload = key.open(sealed, _aad(blob_id, blob_type, compression), what)
    if compression == Compression.ZSTD:
        try:
            claimed = zstandard.frame_content_size(payload)
            if claimed > raw_length:
                raise IntegrityError(f"{what} claims {claimed} bytes, more than its recorded {raw_length}")
            payload = _decompressor().decompress(payload, max_output_size=raw_length)
        except zstandard.ZstdError as e:
            raise IntegrityError(f"{what} does not decompress ({e})") from None
    if len(payload) > raw_length:
        raise IntegrityError(f"{what} holds {len(payload)} bytes, more than its recorded {raw_length}")
    if key.blob_id(payload) != blob_id:
        raise IntegrityError(f"{what} does not match its id")
    return payload
