import os

import pytest

from engine.errors import IntegrityError
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
