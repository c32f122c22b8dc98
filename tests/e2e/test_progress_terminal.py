"""On a terminal, a backup and a restore draw a live progress line; piped, they print only results."""

import os
import subprocess
import sys


def _run_on_tty(cli, *args: str) -> str:
    master, slave = os.openpty()
    cmd = [sys.executable, "-m", "engine", *args, "--repo", str(cli.repo)]
    proc = subprocess.Popen(cmd, env={**cli.env, "COLUMNS": "200"}, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait() == 0
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_progress_line_on_a_terminal_only(cli, dataset64, tmp_path):
    cli("init")
    shown = _run_on_tty(cli, "backup", str(dataset64))
    assert "backing up: [" in shown and "files" in shown and "%" in shown
    piped = cli("backup", str(dataset64))
    assert "[" not in piped.stderr and "Snapshot" in piped.stdout
    restored = _run_on_tty(cli, "restore", "latest", "--target", str(tmp_path / "out"))
    assert "restoring: [" in restored
    checked = _run_on_tty(cli, "check", "--read-data")
    assert "checking: [" in checked
