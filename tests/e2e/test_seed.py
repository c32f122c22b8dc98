"""The seed drive story against the real S3 server: export, mutate, load, lose packs, reconcile, back up, restore."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from bench.datasets import assert_same_tree, mutate
from engine.backends.base import pack_name
from engine.backends.local import LocalBackend
from engine.repo.blobstore import BlobStore
from engine.repo.index import Index
from engine.repo.repository import Repository
from engine.repo.snapshot import load_snapshots
from engine.repo.tree import Kind
from engine.repo.walk import folder_entries
from tests.conftest import PASSWORD


def _bucket_bytes(s3_server, bucket: str) -> int:
    return sum(s3_server.objects(bucket).values())


def _independent_percent(drive, s3_server, bucket: str) -> float:
    """% backed up of the seed's snapshot, from the drive's own index and trees and the bucket's listing
    (no local state, no reconcile code)."""
    repo = Repository.open(LocalBackend(drive), PASSWORD)
    index = Index()
    for name in repo.index_names():
        index.add_plain(repo.read_index(name))
    store = BlobStore(repo.key, index, repo.backend)
    in_bucket = {"/".join(k.split("/")[1:]) for k in s3_server.objects(bucket)}  # without the "repo/" prefix
    snap = load_snapshots(repo.backend, repo.key)[-1]
    safe = total = 0
    stack = [snap.tree_id]
    while stack:
        for e in folder_entries(store, stack.pop()):
            if e.kind == Kind.DIR:
                stack.append(e.subtree)
            elif e.kind == Kind.FILE:
                total += e.size
                if all(pack_name(index.get(i).pack_id) in in_bucket for i in e.ids):
                    safe += e.size
    return 100.0 * safe / total


@pytest.mark.slow
def test_seed_export_load_lose_packs_reconcile_backup_restore(cli, s3_server, s3_repo, dataset_copy, tmp_path):
    src, drive = dataset_copy, tmp_path / "drive"
    bucket = s3_repo.split("/")[-2]
    cli("init", "--repo", s3_repo, repo=False)
    cli("limit", "off", repo=False)  # loopback: the pace is not what this test is about
    exported = cli.json("seed", "export", "--repo", s3_repo, "--drive", str(drive), str(src), repo=False)
    assert exported["bytes_added"] > 32 << 20
    assert "waiting for seed" in cli("status", "--repo", s3_repo, repo=False).stdout
    assert cli.json("seed", "verify", "--drive", str(drive), repo=False)["ok"]

    # What the mutation costs on its own: the same backup into a copy of the drive, by another installation.
    shadow = tmp_path / "shadow"
    shutil.copytree(drive, shadow)
    mutate(src)
    alone = cli.json("backup", str(src), "--repo", str(shadow), repo=False, env={"BACKBEAT_HOME": str(tmp_path / "h2")})

    early = cli.json("reconcile", "--repo", s3_repo, repo=False)  # before the provider has loaded it
    assert early["seed_waiting"] and early["seed_state"] == "shipping" and early["dropped"] == 0
    assert "the seed drive is on its way" in early["notes"][0]
    assert "waiting for seed" in cli("status", "--repo", s3_repo, repo=False).stdout  # nothing was given up

    loaded = cli.json("seed", "load", "--drive", str(drive), "--repo", s3_repo, repo=False)
    assert loaded["errors"] == [] and loaded["objects_copied"] > 5
    packs = sorted((size, name) for name, size in s3_server.objects(bucket).items() if name.startswith("repo/data/"))
    lost = [name for _size, name in packs[-2:]]  # two of the biggest: file data, not trees
    for name in lost:
        s3_server.delete(bucket, name)
    lost_bytes = sum(size for size, name in packs if name in lost)

    report = cli.json("reconcile", "--repo", s3_repo, repo=False, ok=(3,))  # 3: packs were lost there
    assert sorted(report["missing"]) == sorted(n.removeprefix("repo/") for n in lost)
    assert report["corrupt"] == [] and report["dropped"] == 2
    assert report["percent_backed_up"] == pytest.approx(_independent_percent(drive, s3_server, bucket), abs=0.01)
    assert report["percent_backed_up"] < 100

    before = _bucket_bytes(s3_server, bucket)
    cli("backup", str(src), "--repo", s3_repo, repo=False)
    uploaded = _bucket_bytes(s3_server, bucket) - before
    print(json.dumps({"uploaded": uploaded, "changed_alone": alone["bytes_added"], "lost": lost_bytes}))
    assert uploaded <= 1.2 * (alone["bytes_added"] + lost_bytes)
    assert uploaded < 0.5 * exported["bytes_read"]  # far below the whole tree
    status = cli.json("status", "--repo", s3_repo, repo=False)
    assert {d["location"]: d for d in status["destinations"]}[s3_repo]["percent_backed_up"] == 100

    fresh = {"BACKBEAT_HOME": str(tmp_path / "new-machine")}
    cli("restore", "latest", "--target", str(tmp_path / "back"), "--repo", s3_repo, repo=False, env=fresh)
    assert_same_tree(src, tmp_path / "back" / src.name)
    # If the lost packs held the export's versions of files mutated since, `check` names them, in the
    # export's snapshot only: the latest snapshot is whole.
    check = cli("check", "--read-data", "--json", "--repo", s3_repo, repo=False, env=fresh, ok=(0, 1))
    errors = json.loads(check.stdout)["errors"]
    assert all(e.startswith(f"snapshot {exported['snapshot_id'][:8]}: ") for e in errors)


@pytest.mark.parametrize("kill_at", [1, 2])
def test_a_reconcile_killed_midway_is_finished_by_the_next(cli, s3_server, tmp_path, kill_at):
    """A seed that arrived with many of its data packs lost: reconcile is killed after its
    first change (the new index file) or its second (the old one deleted). The next reconcile must
    not take the seed for one still on its way: it finishes, and a backup sends the data again."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"f{i}").write_bytes(os.urandom(700_000))
    bucket = s3_server.bucket(f"reconcile-kill-{kill_at}")
    location, drive = s3_server.location(bucket), tmp_path / "drive"
    cli("init", "--pack-size", "512K", "--repo", location, repo=False)
    cli("limit", "off", repo=False)
    cli("seed", "export", "--repo", location, "--drive", str(drive), str(src), repo=False)
    cli("seed", "load", "--drive", str(drive), "--repo", location, repo=False)
    # Lose half the seed's data packs after the load: its receipt says the load finished, so what
    # is missing is lost (and a rerun must not take the seed for one still on its way).
    packs = sorted((size, name) for name, size in s3_server.objects(bucket).items() if "/data/" in name)
    lose = len(packs) // 2
    assert 0 < lose < len(packs)
    for _size, name in packs[-lose:]:
        s3_server.delete(bucket, name)

    count = tmp_path / "count"
    cmd = [sys.executable, "-m", "tests.killpoint", str(kill_at), str(count), "--", "reconcile", "-q"]
    killed = subprocess.run([*cmd, "--repo", location], env=cli.env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    again = cli.json("reconcile", "--repo", location, repo=False, ok=(3,))
    assert not again["seed_waiting"], again["notes"]
    cli("backup", str(src), "--repo", location, repo=False)
    cli("check", "--read-data", "--repo", location, repo=False)
    fresh = {"BACKBEAT_HOME": str(tmp_path / "new-machine")}
    cli("restore", "latest", "--target", str(tmp_path / "back"), "--repo", location, repo=False, env=fresh)
    assert_same_tree(src, tmp_path / "back" / src.name)


def test_reconcile_keeps_a_pack_it_repaired_from_the_drive_while_dropping_one_the_drive_lacks(cli, tmp_path):
    """Issue 26 (D1): a damaged pack the drive holds (P1) was put back from the drive, then deleted
    with a damaged pack the drive lacks (P2): the index kept naming P1 and its files no longer
    restored anywhere."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}").write_bytes(os.urandom(700_000))
    drive = tmp_path / "drive"
    cli("init", "--pack-size", "512K")
    cli("seed", "export", "--drive", str(drive), str(src))
    cli("seed", "load", "--drive", str(drive), "--repo", str(cli.repo), repo=False)
    on_drive = {p.name for p in (drive / "data").glob("*/*")}
    (src / "later").write_bytes(os.urandom(700_000))
    cli("backup", str(src))
    packs = {p.name: p for p in (cli.repo / "data").glob("*/*")}
    p1 = max((packs[n] for n in on_drive), key=lambda p: p.stat().st_size)
    p2 = max((packs[n] for n in set(packs) - on_drive), key=lambda p: p.stat().st_size)
    for pack in (p1, p2):
        data = bytearray(pack.read_bytes())
        data[100] ^= 0xFF
        pack.write_bytes(data)

    report = cli.json("reconcile", "--drive", str(drive), "--full", ok=(3,))  # P2 is lost there
    assert f"data/{p1.name[:2]}/{p1.name}" in report["corrupt"] and report["repaired_from_drive"] == 1
    assert p1.exists() and not p2.exists()
    cli("backup", str(src))  # sends P2's data again
    fresh = {"BACKBEAT_HOME": str(tmp_path / "new-machine")}
    assert cli.json("check", "--read-data", env=fresh)["ok"]
    cli("restore", "latest", "--target", str(tmp_path / "back"), env=fresh)
    assert_same_tree(src, tmp_path / "back" / src.name)
