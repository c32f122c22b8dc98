"""The scan, on real folders: what it leaves out and why."""

import os

from engine.scanner import scan


def _names(node) -> set[bytes]:
    return {c.name for c in node.children}


def test_backbeats_own_folder_is_never_backed_up(tmp_path):
    home = tmp_path / "home"
    (home / "own" / "state").mkdir(parents=True)
    (home / "own" / "state" / "db.sqlite").write_bytes(b"x")
    (home / "own-not").mkdir()  # a sibling whose name starts the same is backed up
    (home / "notes.txt").write_text("keep")
    said = []
    found = scan([str(home), str(home / "own" / "state")], ["*.tmp"], [os.fsencode(home / "own")], said.append)
    assert _names(found.root.children[0]) == {b"notes.txt", b"own-not"}
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
    assert _names(found.root.children[0]) == {b"b.txt"}


def test_every_folder_lists_its_children_in_name_order_whatever_the_sources(tmp_path):
    """Trees are built part by part in name order: `a-b` sorts before `a/c` as a path but after
    `a` as a name, so the folders between the sources must keep name order as they are grafted."""
    for rel in ("a/c", "a-b", "b/z", "b/y"):
        (tmp_path / rel).mkdir(parents=True)
    found = scan([str(tmp_path / p) for p in ("b/z", "a/c", "a-b", "b/y")], [], [], lambda ev: None)

    def names(node):
        return [c.name for c in node.children]

    assert names(found.root) == [b"a", b"a-b", b"b"]
    assert names(found.root.children[2]) == [b"y", b"z"]
