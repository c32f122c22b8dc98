"""The scan, on real folders: what it leaves out and why."""

import os

from engine.local.scanner import scan
from engine.local.spool import Tag


def _listing(found) -> dict[bytes, list[bytes]]:
    """folder -> the names of its entries, in the spool's order."""
    out: dict[bytes, list[bytes]] = {}
    folders: list[bytes] = []
    for e in found.spool:
        if e.tag == Tag.LEAVE:
            folders.pop()
            continue
        if folders:
            out[folders[-1]].append(e.path.rsplit(b"/", 1)[-1])
        if e.tag == Tag.ENTER:
            folders.append(e.path)
            out[e.path] = []
    assert not folders
    return out


def _names(found, folder) -> set[bytes]:
    return set(_listing(found)[os.fsencode(folder)])


def test_backbeats_own_folder_is_never_backed_up(tmp_path):
    home = tmp_path / "home"
    (home / "own" / "state").mkdir(parents=True)
    (home / "own" / "state" / "db.sqlite").write_bytes(b"x")
    (home / "own-not").mkdir()  # a sibling whose name starts the same is backed up
    (home / "notes.txt").write_text("keep")
    said = []
    found = scan([str(home), str(home / "own" / "state")], ["*.tmp"], [os.fsencode(home / "own")], said.append)
    assert _names(found, home) == {b"notes.txt", b"own-not"}
    assert found.paths == [os.fsencode(home)]

    inside = scan([str(home / "own" / "state")], [], [os.fsencode(home / "own")], said.append)
    assert inside.paths == []
    assert [(s.path, s.warning) for s in said] == [(str(home / "own" / "state"), False)]
    assert "never backed up" in said[0].reason


def test_exclude_patterns_match_names_and_paths(tmp_path):
    (tmp_path / "src" / "cache").mkdir(parents=True)
    (tmp_path / "src" / "a.tmp").write_text("")
    (tmp_path / "src" / "b.txt").write_text("")
    found = scan([str(tmp_path / "src")], ["*.tmp", str(tmp_path / "src" / "cache")], [], lambda e: None)
    assert _names(found, tmp_path / "src") == {b"b.txt"}


def test_every_folder_lists_its_children_in_name_order_whatever_the_sources(tmp_path):
    """Trees are built part by part in name order: `a-b` sorts before `a/c` as a path but after
    `a` as a name, so the folders between the sources must keep name order as they are grafted."""
    for rel in ("a/c", "a-b", "b/z", "b/y"):
        (tmp_path / rel).mkdir(parents=True)
    found = scan([str(tmp_path / p) for p in ("b/z", "a/c", "a-b", "b/y")], [], [], lambda ev: None)
    listing = _listing(found)
    assert listing[os.fsencode(tmp_path)] == [b"a", b"a-b", b"b"]
    assert listing[os.fsencode(tmp_path / "a")] == [b"c"]
    assert listing[os.fsencode(tmp_path / "b")] == [b"y", b"z"]


def test_a_listing_bigger_than_a_run_is_merged_in_name_order(tmp_path, monkeypatch):
    """A huge folder is sorted in runs spilled to disk and merged, never held whole."""
    import engine.local.scanner

    monkeypatch.setattr(engine.local.scanner, "_RUN", 100)
    names = [f"{i * 7919 % 1000:03}-{'x' * (i % 5)}".encode() for i in range(1000)]
    for name in names:
        (tmp_path / "big" / os.fsdecode(name)).parent.mkdir(exist_ok=True)
        (tmp_path / "big" / os.fsdecode(name)).write_bytes(b"")
    found = scan([str(tmp_path / "big")], [], [], lambda ev: None)
    assert _listing(found)[os.fsencode(tmp_path / "big")] == sorted(names)
    assert found.spool.files == 1000
