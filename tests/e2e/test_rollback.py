"""A destination that goes back to an older copy, or has objects of another repository mixed in."""

import json
import shutil

from bench.datasets import assert_same_tree


def test_a_destination_put_back_to_an_older_copy_is_reported(cli, dataset_copy, tmp_path):
    cli("init")
    cli("backup", str(dataset_copy))
    shutil.copytree(cli.repo, tmp_path / "older")
    (dataset_copy / "new.txt").write_text("made after the older copy")
    latest = cli.json("backup", str(dataset_copy))["snapshot_id"]
    shutil.rmtree(cli.repo)
    shutil.copytree(tmp_path / "older", cli.repo)  # the server's disk restored from last week's copy

    report = cli.json("check")
    assert report["ok"]  # what is there is sound
    assert any(latest[:8] in w and "older copy" in w for w in report["warnings"]), report["warnings"]
    proc = cli("backup", str(dataset_copy), ok=(0, 3))
    assert latest[:8] in proc.stderr and "no longer holds the newest backup" in proc.stderr
    assert cli.json("check")["warnings"] == []  # said until a new backup stood in for it
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    assert_same_tree(dataset_copy, tmp_path / "out" / "src")


def test_objects_of_another_repository_are_rejected(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "mine.txt").write_text("mine")
    cli("init")
    cli("backup", str(src))
    other = tmp_path / "other"
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "theirs.bin").write_bytes(b"theirs" * 100_000)
    cli("init", "--repo", str(other), repo=False)
    cli("backup", str(tmp_path / "theirs"), "--repo", str(other), repo=False)
    for folder in ("snapshots", "index", "data"):  # one of each kind of their objects, mixed into ours
        for path in sorted((other / folder).rglob("*")):
            if path.is_file():
                dest = cli.repo / path.relative_to(other)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, dest)

    report = cli.json("check", "--read-data", ok=(1,))
    said = "\n".join(report["errors"])
    assert "snapshots/" in said and "index file index/" in said and "header does not open" in said
    assert [s["paths"] for s in cli.json("snapshots")] == [[str(src)]]  # theirs never listed
    cli("backup", str(src))
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    assert (tmp_path / "out" / "src" / "mine.txt").read_text() == "mine"
    assert not list((tmp_path / "out").rglob("theirs*"))
    repair = json.loads(cli("check", "--repair", "--json", ok=(1,)).stdout)
    assert any("cannot be read at all" in line for line in repair["left"])  # their packs: not ours to delete
    assert cli.json("check")["ok"]  # their snapshot and index file are gone; their packs are merely unnamed
