import os

import pytest

from engine.base.errors import IntegrityError
from engine.repo.blob import BlobType, Compression, open_blob, seal_blob
from engine.repo.crypto import MasterKey


@pytest.fixture
def key():
    return MasterKey.generate()


def test_round_trip_compresses_text_and_keeps_random_raw(key):
    text = b"the quick brown fox jumps over the lazy dog\n" * 20000
    noise = os.urandom(1 << 20)
    for data, expected in ((text, Compression.ZSTD), (noise, Compression.RAW)):
        bid = key.blob_id(data)
        sealed, comp = seal_blob(key, bid, BlobType.DATA, data)
        assert comp == expected
        assert open_blob(key, bid, BlobType.DATA, comp, sealed) == data
    assert len(seal_blob(key, key.blob_id(text), BlobType.DATA, text)[0]) < len(text) // 10


def test_tampering_is_detected(key):
    data = b"hello world" * 100
    bid = key.blob_id(data)
    sealed, comp = seal_blob(key, bid, BlobType.DATA, data)
    flipped = bytearray(sealed)
    flipped[20] ^= 1
    with pytest.raises(IntegrityError):
        open_blob(key, bid, BlobType.DATA, comp, bytes(flipped))
    with pytest.raises(IntegrityError):  # passed off as a tree
        open_blob(key, bid, BlobType.TREE, comp, sealed)
    with pytest.raises(IntegrityError):  # passed off as another blob
        open_blob(key, key.blob_id(b"other"), BlobType.DATA, comp, sealed)
    with pytest.raises(IntegrityError):  # another repository's key
        open_blob(MasterKey.generate(), bid, BlobType.DATA, comp, sealed)


def test_ids_are_keyed(key):
    data = b"a known file"
    assert key.blob_id(data) == key.blob_id(data)
    assert key.blob_id(data) != MasterKey.generate().blob_id(data)


def _bomb(size: int, content_size: bool) -> bytes:
    """A zstd frame of `size` zero bytes, made without holding them (a few KiB for a GiB)."""
    import zstandard  # noqa: TID251 - the test builds what a careless or hostile writer could

    if content_size:
        return zstandard.ZstdCompressor().compress(b"\0" * size)
    squeeze = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    block = b"\0" * (1 << 20)
    return b"".join(squeeze.compress(block) for _ in range(size >> 20)) + squeeze.flush()


@pytest.mark.parametrize("content_size", [True, False])
def test_a_blob_that_unpacks_to_more_than_its_recorded_length_is_refused_without_unpacking(key, content_size):
    """An authentic blob whose recorded length is 1,000 bytes and whose frame holds 1 GiB (or
    64 MiB with its size in the header): refused as damage, never unpacked into memory."""
    import resource

    size = (64 << 20) if content_size else (1 << 30)
    bomb = _bomb(size, content_size)
    bid = key.blob_id(b"what the index says it is")
    sealed = key.seal(bomb, bid + bytes((BlobType.DATA, Compression.ZSTD)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(IntegrityError, match="recorded 1000|does not decompress"):
        open_blob(key, bid, BlobType.DATA, Compression.ZSTD, sealed, raw_length=1000)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 32 << 10  # under 32 MiB more at the peak
