"""`backbeat watch` as a user runs it: a snapshot at start, another soon after a change, Ctrl-C stops it cleanly."""

import json
import queue
import signal
import subprocess
import sys
import threading

import pytest


def test_watch_protects_a_change_and_stops_on_ctrl_c(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    cli("init")
    settings = {"watch": {"quiet": 0.3, "max_wait": 2}}
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "settings.json").write_text(json.dumps(settings))
    cmd = [sys.executable, "-m", "engine", "watch", "--repo", str(cli.repo), str(src)]
    env = {**cli.env, "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()
    try:
        assert "full scan (start)" in lines.get(timeout=30)
        (src / "b.txt").write_text("new")
        assert "changed path" in lines.get(timeout=30)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack on stderr
            proc.wait(timeout=10)
            pytest.fail("watch did not stop on Ctrl-C:\n" + proc.stderr.read()[-12000:])
        reader.join(5)
    rest = "".join(lines.get(timeout=5) for _ in range(lines.qsize()))
    assert proc.returncode == 0, proc.stderr.read()
    assert "Stopped watching" in rest
    listed = cli("ls", "latest").stdout
    assert "src/b.txt" in listed and "src/a.txt" in listed
