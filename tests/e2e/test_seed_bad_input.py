"""Seed drive trouble: a missing drive, a full one, one pulled out mid-way, an altered manifest, the wrong bucket."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.datasets import assert_same_tree
from tests.conftest import small_tmpfs


def _random_tree(root: Path, files: int, mb_each: int) -> Path:
    root.mkdir()
    for i in range(files):
        (root / f"clip-{i}.mov").write_bytes(os.urandom(mb_each << 20))
    return root


def test_export_to_a_drive_that_is_not_attached_says_so(cli, tmp_path):
    cli("init")
    src = _random_tree(tmp_path / "src", 1, 1)
    out = cli("seed", "export", "--drive", str(tmp_path / "Volumes" / "Seed"), str(src), ok=(1,))
    assert "seed drive is not attached" in out.stderr and "Plug the drive in" in out.stderr
    out = cli("seed", "verify", "--drive", str(tmp_path), repo=False, ok=(1,))
    assert "holds no seed" in out.stderr


@pytest.fixture
def small_drive(tmp_path):
    """A real file system that fills up: a 240 MiB tmpfs (needs root)."""
    with small_tmpfs(tmp_path / "drive-mnt", "240m") as mnt:
        yield mnt


def test_a_drive_too_small_is_refused_before_anything_is_written(cli, tmp_path, small_drive):
    cli("init")
    src = _random_tree(tmp_path / "src", 8, 24)  # 192 MiB + room for the index: more than 240 MiB holds
    out = cli("seed", "export", "--drive", str(small_drive / "seed"), str(src), ok=(1,))
    assert "free; the export needs up to" in out.stderr and "bigger drive" in out.stderr
    assert not list((small_drive / "seed").glob("data/*/*"))


@pytest.mark.slow
def test_a_drive_that_fills_up_midway_stops_cleanly_and_the_export_resumes(cli, tmp_path, small_drive):
    cli("init")
    src = _random_tree(tmp_path / "src", 12, 8)  # 96 MiB: fits, with the slack
    filler = small_drive / "someone-elses-files.bin"
    cmd = [sys.executable, "-m", "engine", "seed", "export", "--repo", str(cli.repo), "--drive",
           str(small_drive / "seed"), "-q", str(src)]  # fmt: skip
    export = subprocess.Popen(cmd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list((small_drive / "seed").glob("data/*/*")) and time.monotonic() < deadline:
        time.sleep(0.001)
    export.send_signal(signal.SIGSTOP)  # frozen mid-way (a pack is on the drive) while...
    with open(filler, "wb") as f:  # ...another program fills the drive up
        try:
            while True:
                f.write(b"\0" * (1 << 20))
        except OSError:
            pass
    export.send_signal(signal.SIGCONT)
    out, err = export.communicate(timeout=60)
    assert export.returncode == 1, (out, err)
    assert "destination is full" in err and "run the command again" in err
    filler.unlink()
    cli("seed", "export", "--drive", str(small_drive / "seed"), str(src))
    assert cli.json("seed", "verify", "--drive", str(small_drive / "seed"), repo=False)["ok"]
    cli("restore", "latest", "--target", str(tmp_path / "back"), "--repo", str(small_drive / "seed"), repo=False)
    assert_same_tree(src, tmp_path / "back" / "src")


@pytest.mark.slow
def test_a_drive_pulled_out_midway_stops_cleanly_and_the_export_resumes(cli, tmp_path):
    cli("init")
    src = _random_tree(tmp_path / "src", 8, 8)
    drive, pulled = tmp_path / "media" / "seed", tmp_path / "elsewhere"
    drive.parent.mkdir()
    cmd = [sys.executable, "-m", "engine", "seed", "export", "--repo", str(cli.repo), "--drive", str(drive), "-q",
           str(src)]  # fmt: skip
    export = subprocess.Popen(cmd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list(drive.glob("data/*/*")) and time.monotonic() < deadline:
        time.sleep(0.001)
    export.send_signal(signal.SIGSTOP)  # frozen mid-way (a pack is on the drive) while...
    drive.parent.rename(pulled)  # ...the cable comes out: the whole mount point goes
    export.send_signal(signal.SIGCONT)
    out, err = export.communicate(timeout=60)
    assert export.returncode == 1, (out, err)
    assert "not reachable" in err or "not attached" in err
    pulled.rename(drive.parent)  # plugged in again
    cli("seed", "export", "--drive", str(drive), str(src))
    assert cli.json("seed", "verify", "--drive", str(drive), repo=False)["ok"]
    cli("restore", "latest", "--target", str(tmp_path / "back"), "--repo", str(drive), repo=False)
    assert_same_tree(src, tmp_path / "back" / "src")


def test_verify_names_damaged_objects_and_an_altered_manifest(cli, tmp_path):
    cli("init")
    src = _random_tree(tmp_path / "src", 2, 2)
    drive = tmp_path / "drive"
    cli("seed", "export", "--drive", str(drive), str(src))
    manifest_path = drive / "backbeat-seed-manifest.json"
    manifest = json.loads(manifest_path.read_text())
    pack = next(n for n in manifest["objects"] if n.startswith("data/"))
    with open(drive / pack, "r+b") as f:  # one flipped byte in a pack
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    report = cli.json("seed", "verify", "--drive", str(drive), repo=False, ok=(1,))
    assert report["corrupt"] == [pack] and report["authentic"] is True
    said = cli("seed", "verify", "--drive", str(drive), repo=False, ok=(1,)).stdout
    assert "It can be loaded all the same" in said and "read-data" not in said  # what to do, for anyone

    snapshot = next(n for n in manifest["objects"] if n.startswith("snapshots/"))
    manifest["objects"][snapshot][0] += 1  # someone edits the manifest
    manifest_path.write_text(json.dumps(manifest))
    out = cli("seed", "verify", "--drive", str(drive), repo=False, ok=(1,))
    assert f"damaged: {snapshot}" in out.stdout and "manifest was altered" in out.stdout
    # the provider, without the passphrase, still finds the damage (not the MAC)
    env = {k: v for k, v in cli.env.items() if k != "BACKBEAT_PASSWORD"}
    nopass = subprocess.run([sys.executable, "-m", "engine", "seed", "verify", "--drive", str(drive), "--json"],
                            env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    doc = json.loads(nopass.stdout)
    assert nopass.returncode == 1 and doc["authentic"] is None and set(doc["corrupt"]) == {pack, snapshot}


def test_loading_a_drive_into_another_repositorys_bucket_is_refused(cli, s3_repo, tmp_path):
    cli("init")
    src = _random_tree(tmp_path / "src", 1, 1)
    drive = tmp_path / "drive"
    cli("seed", "export", "--drive", str(drive), str(src))
    cli("init", "--repo", s3_repo, repo=False)  # a different repository already lives there
    out = cli("seed", "load", "--drive", str(drive), "--repo", s3_repo, repo=False, ok=(1,))
    assert "holds another repository" in out.stderr
    out = cli("reconcile", "--drive", str(drive), "--repo", s3_repo, repo=False, ok=(1,))  # nor taken to mend it
    assert "holds another backup's seed" in out.stderr and "leave --drive out" in out.stderr
    shutil.rmtree(drive / "snapshots")
    out = cli("seed", "verify", "--drive", str(drive), repo=False, ok=(1,))
    assert "missing: snapshots/" in out.stdout
