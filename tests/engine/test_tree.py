import pytest

from engine.base.errors import IntegrityError
from engine.base.metadata import Metadata
from engine.repo.tree import Kind, TreeEntry, decode_tree, encode_entry, encode_tree, ids_known

ENTRIES = [
    TreeEntry(b"z\xff\xfename", Kind.FILE, 0o644, 1_700_000_000_123_456_789, 12, ids=(b"\1" * 32, b"\2" * 32)),
    TreeEntry("café with space".encode(), Kind.DIR, 0o755, 5, ids=(b"\3" * 32,)),
    TreeEntry(b"link", Kind.SYMLINK, 0o777, -1, target=b"../elsewhere", xattrs=((b"user.k", b"v"),)),
    TreeEntry(b"empty", Kind.FILE, 0o400, 0),
    TreeEntry(
        b"with-metadata",
        Kind.FILE,
        0o640,
        7,
        3,
        xattrs=((b"com.apple.FinderInfo", bytes(32)),),
        ids=(b"\4" * 32,),
        meta=Metadata(501, 20, b"al", b"staff", 1_600_000_000_000_000_001, 0x8000, b"!#acl 1\n", 16777220, 99),
    ),
]


def test_a_version_1_tree_has_no_metadata_and_still_reads():
    """Trees written before metadata (version 1): the same entries without the marker byte."""
    plain = [e._replace(meta=None) for e in sorted(ENTRIES, key=lambda e: e.name)]
    v3 = [encode_entry(e) for e in plain]
    v1 = b"".join(raw[:31] + raw[32:] for raw in v3)  # the fixed part is 31 bytes; then version 3's marker
    assert decode_tree(b"\1" + len(plain).to_bytes(4, "little") + v1) == plain


def test_a_metadata_marker_other_than_0_or_1_is_damage():
    raw = encode_entry(ENTRIES[3])
    with pytest.raises(IntegrityError):
        decode_tree(b"\3" + (1).to_bytes(4, "little") + raw[:31] + b"\2" + raw[32:])


def test_round_trip_sorted_and_canonical():
    data = encode_tree(ENTRIES)
    assert decode_tree(data) == sorted(ENTRIES, key=lambda e: e.name)
    assert encode_tree(reversed(ENTRIES)) == data


def test_malformed_tree_is_an_integrity_error():
    data = encode_tree(ENTRIES)
    for bad in (data[:-1], data + b"x", b"\x09" + data[1:]):
        with pytest.raises(IntegrityError):
            decode_tree(bad)


@pytest.mark.parametrize("name", [b"", b".", b"..", b"../etc", b"a/b", b"/abs", b"nul\0byte"])
def test_a_name_that_is_not_one_path_component_is_refused(name):
    """A tree is trusted no further than its authentication: a restore must never leave its target."""
    with pytest.raises(IntegrityError, match="unsafe name"):
        decode_tree(encode_tree([TreeEntry(name, Kind.FILE, 0o644, 0)]))


def test_a_repeated_name_is_refused():
    """A link and a folder of one name: a restore would create the link, then write through it."""
    twice = [
        TreeEntry(b"a", Kind.SYMLINK, 0o777, 0, target=b"/etc"),
        TreeEntry(b"a", Kind.DIR, 0o755, 0, ids=(b"\3" * 32,)),
    ]
    with pytest.raises(IntegrityError, match="repeated"):
        decode_tree(encode_tree(twice))


@pytest.mark.parametrize("count", [0, 1, 3])
def test_ids_known_needs_every_blob_of_the_entry(count):
    ids = tuple(bytes([i]) * 32 for i in range(count))
    raw = b"stat" + encode_entry(TreeEntry(b"f", Kind.FILE, 0o644, 1, 10, xattrs=((b"k", b"v"),), ids=ids))
    assert ids_known(raw, 4, set(ids))
    for missing in ids:
        assert not ids_known(raw, 4, set(ids) - {missing})
