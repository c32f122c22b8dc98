"""Pause and resume reach a backup running in another process, against the real S3 server."""

import json
import os
import subprocess
import sys
import time

import pytest

from bench.datasets import assert_same_tree
from tests.conftest import eventually


def _activity(home) -> dict:
    try:
        return json.loads((home / "activity.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


@pytest.mark.slow
def test_pause_from_another_process_stops_sending_and_resume_finishes_the_backup(cli, s3_repo, tmp_path, backbeat_home):
    src = tmp_path / "src"
    src.mkdir()
    (src / "video.mov").write_bytes(os.urandom(3 << 20))
    cli("init", "--repo", s3_repo, repo=False)
    cli("limit", "512k", repo=False)  # the settings, read by the backup process
    cmd = [sys.executable, "-m", "engine", "backup", "--repo", s3_repo, "-q", "--json", str(src)]
    backup = subprocess.Popen(cmd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert eventually(lambda: _activity(backbeat_home).get("sent", 0) > 300_000, 30), "the upload never started"
        assert "Uploads paused" in cli("pause", repo=False).stdout
        time.sleep(1.2)  # a second to stop, and the activity file is rewritten every second
        stopped = _activity(backbeat_home)
        assert stopped["paused"] and stopped["reason"] == "paused by you"
        time.sleep(2.5)
        assert _activity(backbeat_home)["sent"] == stopped["sent"]  # nothing more left during the pause
        shown = cli("limit", repo=False).stdout
        assert "In force now: paused by you" in shown
        assert backup.poll() is None
        assert "Uploads resumed" in cli("resume", repo=False).stdout
        out, err = backup.communicate(timeout=60)
    finally:
        backup.kill()
    assert backup.returncode == 0, err
    assert json.loads(out)["files_new"] == 1
    cli("restore", "latest", "--target", str(tmp_path / "back"), "--repo", s3_repo, repo=False)
    assert_same_tree(src, tmp_path / "back" / "src")
