"""kill -9 in the middle of a backup: the repository checks clean and the next run reuses what was written."""

import os
import signal
import subprocess
import sys
import time

from tests.conftest import treehash_compare


def _packs(repo):
    return sum(len(files) for _, _, files in os.walk(repo / "data"))


def _backup_killed_after(cli, src, packs: int) -> None:
    cmd = [sys.executable, "-m", "engine", "backup", str(src), "--repo", str(cli.repo), "-q"]
    proc = subprocess.Popen(cmd, env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = _packs(cli.repo)
    deadline = time.monotonic() + 60
    while _packs(cli.repo) < start + packs and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_kill9_leaves_a_consistent_repository_and_the_next_run_resumes(cli, dataset_copy, tmp_path):
    cli("init")
    for packs in (1, 2, 3):
        _backup_killed_after(cli, dataset_copy, packs)
        report = cli.json("check", "--read-data")
        assert report["ok"], report["errors"]
        assert cli.json("snapshots") == []  # no snapshot from a run that did not finish
    written_before = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cli.repo / "data") for f in fs)
    assert written_before > 0
    final = cli.json("backup", str(dataset_copy))
    # what the killed runs wrote was reused: this run adds far less than a fresh repository would
    fresh_env = {**cli.env, "BACKBEAT_HOME": str(tmp_path / "fresh-home")}
    cli("init", "--repo", str(tmp_path / "fresh"), repo=False, env=fresh_env)
    fresh = cli.json("backup", str(dataset_copy), "--repo", str(tmp_path / "fresh"), repo=False, env=fresh_env)
    assert final["bytes_added"] <= fresh["bytes_added"] - written_before * 0.5
    report = cli.json("check", "--read-data")
    assert report["ok"], report["errors"]
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    assert treehash_compare(dataset_copy, tmp_path / "out" / "src").returncode == 0
