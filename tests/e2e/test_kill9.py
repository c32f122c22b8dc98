"""kill -9 in the middle of a backup: the repository checks clean and the next run reuses what was
written. In the middle of a restore: only whole files have their names, and the same restore run
again writes only the rest."""

import fcntl
import os
import random
import signal
import subprocess
import sys
import time

from bench.datasets import assert_same_tree


def _packs(repo):
    return sum(len(files) for _, _, files in os.walk(repo / "data"))


def _backup_killed(cli, src, *, new_packs: int = 0, seconds: float = 60) -> bool:
    """Start a backup; kill -9 it once `new_packs` more packs exist, or after `seconds`. True if killed."""
    cmd = [sys.executable, "-m", "engine", "backup", str(src), "--repo", str(cli.repo), "-q"]
    proc = subprocess.Popen(cmd, env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = _packs(cli.repo)
    deadline = time.monotonic() + seconds
    while (not new_packs or _packs(cli.repo) < start + new_packs) and time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def test_kill9_leaves_a_consistent_repository_and_the_next_run_resumes(cli, dataset_copy, tmp_path):
    rnd = random.Random(9)
    cli("init")
    kills = [_backup_killed(cli, dataset_copy, seconds=0.3)]  # during start-up, scanning or the first packs
    while sum(kills) < 4:
        assert len(kills) < 10, "the backups kept finishing before they could be killed"
        # every run gets three packs of new data, and is killed once the first of them has landed
        (dataset_copy / f"new-{len(kills)}.bin").write_bytes(rnd.randbytes(24 << 20))
        kills.append(_backup_killed(cli, dataset_copy, new_packs=1))
        report = cli.json("check", "--read-data")
        assert report["ok"], report["errors"]
    assert cli.json("snapshots") == [] or not all(kills)
    written_before = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cli.repo / "data") for f in fs)
    final = cli.json("backup", str(dataset_copy))
    # what the killed runs wrote was reused: this run adds far less than a fresh repository would
    fresh_env = {**cli.env, "BACKBEAT_HOME": str(tmp_path / "fresh-home")}
    cli("init", "--repo", str(tmp_path / "fresh"), repo=False, env=fresh_env)
    fresh = cli.json("backup", str(dataset_copy), "--repo", str(tmp_path / "fresh"), repo=False, env=fresh_env)
    assert final["bytes_added"] <= fresh["bytes_added"] - written_before * 0.5
    report = cli.json("check", "--read-data")
    assert report["ok"], report["errors"]
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    assert_same_tree(dataset_copy, tmp_path / "out" / "src")


def test_a_restore_killed_leaves_only_whole_files_and_run_again_restores_the_rest(cli, tmp_path):
    rnd = random.Random(5)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for i in range(60):  # several blobs each: a file written in place would be seen half done
        (src / ("sub" if i % 2 else "") / f"f{i:02}.bin").write_bytes(rnd.randbytes(rnd.randrange(1, 3 << 20)))
    (src / "empty").write_bytes(b"")
    cli("init")
    cli("backup", str(src))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tests.killpoint", "25", str(tmp_path / "count"), "--", "restore", "latest"]
    cmd += ["--target", str(out), "--repo", str(cli.repo), "-q"]
    killed = subprocess.run(cmd, env=cli.env, capture_output=True, cwd=cli.env["PYTHONPATH"])
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    named = [p for p in (out / "src").rglob("*") if p.is_file()]
    assert 25 <= len(named) < 61  # the other workers may have named a few more before the kill
    for p in named:  # a file has its name only whole, with its metadata
        original = src / p.relative_to(out / "src")
        assert p.read_bytes() == original.read_bytes() and p.stat().st_mtime_ns == original.stat().st_mtime_ns
    assert list(out.glob(".backbeat-restoring-*"))  # the rest, not whole yet

    again = cli("restore", "latest", "--target", str(out))
    assert f"{len(named)} file(s) were already there, the same" in again.stdout
    assert_same_tree(src, out / "src")
    assert not list(out.glob(".backbeat-restoring-*"))


def test_a_restore_clears_staging_folders_of_restores_cut_off_but_not_one_in_use(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    cli("init")
    cli("backup", str(src))
    out = tmp_path / "out"
    cut_off, in_use = out / ".backbeat-restoring-cutoff", out / ".backbeat-restoring-inuse"
    for staging in (cut_off, in_use):
        (staging / "7").mkdir(parents=True)
        (staging / "7" / "1799").write_bytes(b"half")
    held = os.open(in_use, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)  # as a restore running into the same folder holds its own
    try:
        cli("restore", "latest", "--target", str(out))
    finally:
        os.close(held)
    assert (out / "src" / "a.txt").read_text() == "a"
    assert not cut_off.exists()
    assert (in_use / "7" / "1799").read_bytes() == b"half"
