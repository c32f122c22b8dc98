"""A long first upload over a slow line to the real S3 server: checkpoints protect files as they
arrive, recent documents first; killed twice, the upload resumes and sends little more."""

import filecmp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.datasets import assert_same_tree
from bench.homefolder import make_home
from bench.tcpcount import CountingProxy

PACK = "128k"  # small packs: a killed upload loses at most one part-sent pack per stream


def _start_backup(cli, location: str, src: Path, *extra: str, env=None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "engine", "backup", str(src), "--repo", location, "-q", *extra]
    return subprocess.Popen(cmd, env=env or cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _checkpoints(cli, location: str, env=None) -> list[dict]:
    return [s for s in cli.json("snapshots", "--repo", location, repo=False, env=env) if s["checkpoint"]]


def _restored_files(cli, location: str, snapshot: str, out: Path, env=None) -> list[Path]:
    cli("restore", snapshot, "--repo", location, "--target", str(out), repo=False, env=env)
    return [Path(d, f) for d, _, fs in os.walk(out) for f in fs]


def _same_as_source(restored: list[Path], out: Path, src: Path) -> None:
    """Every file a checkpoint lists is whole and byte-exact."""
    for path in restored:
        original = src / path.relative_to(out / src.name)
        assert filecmp.cmp(path, original, shallow=False), f"{original} differs"


@pytest.mark.slow
def test_a_checkpoint_protects_recent_documents_first_and_each_file_is_whole(cli, s3_repo, tmp_path):
    src = tmp_path / "Home"
    kinds = make_home(src)
    cli("init", "--repo", s3_repo, "--pack-size", PACK, repo=False)
    cli("limit", "1M", repo=False)  # a slow line, for a loopback server
    proc = _start_backup(cli, s3_repo, src, "--checkpoint-every", "2s")
    deadline = time.monotonic() + 60
    while not (found := _checkpoints(cli, s3_repo)) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.3)
    assert found, "no checkpoint within a minute"
    out = tmp_path / "first"
    restored = _restored_files(cli, s3_repo, found[0]["id"], out)
    _same_as_source(restored, out, src)
    names = {p.name for p in restored}
    recent = {p.name for p in kinds["recent_docs"]}
    assert len(names & recent) >= 0.9 * len(recent)  # the week's documents came first
    assert "Installer.dmg" not in names and "holiday.mov" not in names  # not the disk image, not the film
    assert proc.wait(120) == 0, proc.stderr.read().decode()
    snaps = cli.json("snapshots", "--repo", s3_repo, repo=False)
    assert [s["checkpoint"] for s in snaps] == [False]  # the final snapshot folded its checkpoints away
    assert snaps[0]["summary"]["files_new"] == sum(len(v) for v in kinds.values())


def _run_to_bytes(cli, location: str, src: Path, proxy: CountingProxy, stop_at: int | None, env) -> bool:
    """Back up; kill -9 once the line has carried `stop_at` bytes. True if it was killed."""
    # every 3 s: each checkpoint sends the trees again, and on a loaded machine a run takes longer, so a
    # shorter interval made the bytes on the line depend on the machine's load more than on the kills
    proc = _start_backup(cli, location, src, "--checkpoint-every", "3s", env=env)
    while proc.poll() is None:
        if stop_at is not None and proxy.sent >= stop_at:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    assert proc.returncode == 0, proc.stderr.read().decode()
    return False


@pytest.mark.slow
def test_killed_twice_the_upload_resumes_keeps_its_checkpoints_and_sends_within_5_percent_more(
    cli, s3_server, tmp_path
):
    src = tmp_path / "Home"
    make_home(src, scale=4)
    proxy = CountingProxy(s3_server.port)
    sent = {}
    try:
        for name, kills in (("whole", ()), ("killed", (0.35, 0.7))):
            bucket = s3_server.bucket(f"long-{name}")
            location = f"s3:http://127.0.0.1:{proxy.port}/{bucket}/repo"
            env = {**cli.env, "BACKBEAT_HOME": str(tmp_path / f"home-{name}")}
            cli("init", "--repo", location, "--pack-size", PACK, repo=False, env=env)
            cli("limit", "3M", repo=False, env=env)  # one upload at a time, as on a slow line
            start = proxy.sent
            for share in kills:
                assert _run_to_bytes(cli, location, src, proxy, start + int(share * sent["whole"]), env)
                assert cli.json("check", "--repo", location, repo=False, env=env)["ok"]
                checkpoints = _checkpoints(cli, location, env)
                assert checkpoints, "the killed run left no checkpoint"
                for cp in checkpoints:  # earlier runs' protection is still there
                    out = tmp_path / f"cp-{share}-{cp['id'][:8]}"
                    _same_as_source(_restored_files(cli, location, cp["id"], out, env), out, src)
            assert not _run_to_bytes(cli, location, src, proxy, None, env)
            sent[name] = proxy.sent - start
            snaps = cli.json("snapshots", "--repo", location, repo=False, env=env)
            assert [s["checkpoint"] for s in snaps] == [False]
            out = tmp_path / f"final-{name}"
            cli("restore", "latest", "--repo", location, "--target", str(out), repo=False, env=env)
            assert_same_tree(src, out / src.name)
    finally:
        proxy.close()
    assert sent["killed"] <= 1.05 * sent["whole"], sent
