"""A big folder is stored as parts: cut where the names say, read back one part at a time, and
refused when the parts are tampered with."""

import struct

import pytest

from engine.base.errors import IntegrityError
from engine.repo.blob import BlobType
from engine.repo.crypto import MasterKey
from engine.repo.tree import (
    PART_MAX,
    PART_MIN,
    Kind,
    TreeEntry,
    TreeSplitter,
    decode_tree,
    encode_entry,
    encode_tree,
    split_parts,
)
from engine.repo.walk import folder_entries
from tests.engine.test_pack_index import _store

SEED = 0x5EED


def _entries(count: int, mtime: int = 1) -> list[TreeEntry]:
    return [
        TreeEntry(b"file-%07d.txt" % i, Kind.FILE, 0o644, mtime, 3, ids=(i.to_bytes(32, "little"),))
        for i in range(count)
    ]


def _build(entries: list[TreeEntry], seed: int = SEED) -> tuple[bytes, dict[bytes, bytes]]:
    """(tree id, every blob put), with the blobs named by their index in a plain dict."""
    blobs: dict[bytes, bytes] = {}
    ids: dict[bytes, bytes] = {}

    def put(data: bytes) -> bytes:
        blob_id = ids.setdefault(data, len(ids).to_bytes(32, "big"))
        blobs[blob_id] = data
        return blob_id

    splitter = TreeSplitter(seed, put)
    for e in entries:
        splitter.add(e.name, encode_entry(e))
    return splitter.finish(), blobs


def _parts(tree_id: bytes, blobs: dict[bytes, bytes]) -> list[bytes]:
    """The parts' bytes, in order."""
    return [blobs[p] for p in split_parts(blobs[tree_id])]


def test_a_folder_of_a_few_thousand_is_one_whole_tree():
    entries = _entries(PART_MIN)
    tree_id, blobs = _build(entries)
    assert split_parts(blobs[tree_id]) is None
    assert len(blobs) == 1
    assert blobs[tree_id] == encode_tree(entries)  # byte for byte what it always was: nothing re-sent


def test_a_big_folder_is_stored_as_parts_and_read_back_whole_in_name_order(tmp_path):
    key = MasterKey.generate()
    store, *_ = _store(tmp_path, key, pack_size=1 << 20)
    entries = _entries(60_000)
    splitter = TreeSplitter(SEED, lambda data: store.put(BlobType.TREE, data))
    for e in entries:
        splitter.add(e.name, encode_entry(e))
    tree_id = splitter.finish()
    store.flush()
    parts = split_parts(store.get(BlobType.TREE, tree_id))
    assert 3 <= len(parts) <= 14
    assert all(len(decode_tree(store.get(BlobType.TREE, p))) <= PART_MAX for p in parts)
    seen: set[bytes] = set()
    assert list(folder_entries(store, tree_id, seen)) == entries
    assert seen == set(parts)  # prune keeps every part


def test_one_changed_file_changes_one_part_and_one_added_at_most_two():
    entries = _entries(60_000)
    tree_id, blobs = _build(entries)
    before = set(_parts(tree_id, blobs))

    changed = list(entries)
    changed[31_337] = changed[31_337]._replace(mtime_ns=2)
    after = _parts(*_build(changed))
    assert len(set(after) - before) == 1

    added = sorted([*entries, TreeEntry(b"file-0031337.txu", Kind.FILE, 0o644, 1, 0)], key=lambda e: e.name)
    after = _parts(*_build(added))
    assert 1 <= len(set(after) - before) <= 2


def test_where_a_folder_is_cut_depends_on_the_key():
    sizes = [[len(decode_tree(p)) for p in _parts(*_build(_entries(60_000), seed))] for seed in (SEED, SEED + 1)]
    assert sizes[0] != sizes[1]


def test_entries_out_of_name_order_are_a_programming_error():
    splitter = TreeSplitter(SEED, lambda data: b"")
    splitter.add(b"b", b"")
    with pytest.raises(ValueError, match="name order"):
        splitter.add(b"a", b"")


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("swapped", "out of order"),
        ("repeated", "out of order or repeated"),
        ("nested", "list of parts where a part belongs"),
        ("empty", "empty part"),
        ("one part", "list of parts is malformed"),
        ("trailing bytes", "list of parts is malformed"),
    ],
)
def test_a_tampered_list_of_parts_is_refused(tmp_path, tamper, reason):
    """A list of parts is trusted no further than its authentication: names must still strictly
    increase across parts, parts are whole trees, and the list is canonical."""
    key = MasterKey.generate()
    store, *_ = _store(tmp_path, key, pack_size=1 << 20)
    tree_id, blobs = _build(_entries(20_000))
    ids = list(split_parts(blobs[tree_id]))
    real = [store.put(BlobType.TREE, blobs[i]) for i in ids]  # stored under their real ids
    if tamper == "swapped":
        real[0], real[1] = real[1], real[0]
    elif tamper == "repeated":
        real[1] = real[0]
    elif tamper == "nested":
        real[1] = store.put(BlobType.TREE, struct.pack("<BI", 2, 2) + real[0] + real[2])
    elif tamper == "empty":
        real.insert(1, store.put(BlobType.TREE, struct.pack("<BI", 1, 0)))
    elif tamper == "one part":
        real = real[:1]
    listing = struct.pack("<BI", 2, len(real)) + b"".join(real)
    if tamper == "trailing bytes":
        listing += b"x"
    bad = store.put(BlobType.TREE, listing)
    store.flush()
    with pytest.raises(IntegrityError, match=reason):
        list(folder_entries(store, bad))


def test_the_cut_points_are_part_of_the_format():
    """Changing the rule (docs/format.md) would make every big folder's listing new to the
    repository: its next backup would send it all again."""
    assert [len(decode_tree(p)) for p in _parts(*_build(_entries(60_000)))] == [15151, 4508, 9246, 16754, 7552, 6789]
