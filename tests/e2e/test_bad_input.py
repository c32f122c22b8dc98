"""Bad input gets a clear message, the right exit code, and the rest of the work goes on."""

import hashlib
import os
import socket
import threading
from pathlib import Path

import engine.jobs.backup as backup
from engine.backends.local import LocalBackend
from engine.jobs.backup import start_scan
from engine.jobs.session import open_session
from engine.repo.repository import Repository
from tests.conftest import PASSWORD
from tests.jobs import run_backup

#: as root, permissions do not stop reads: drop the capabilities that bypass them.
NO_DAC = ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 else ()


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_wrong_passphrase_changes_nothing(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("data")
    cli("init")
    cli("backup", str(src))
    before = _digest(cli.repo)
    for cmd in (["backup", str(src)], ["snapshots"], ["restore", "latest", "--target", str(tmp_path / "o")]):
        proc = cli(*cmd, ok=(1,), env={"BACKBEAT_PASSWORD": "wrong"})
        assert "wrong passphrase" in proc.stderr and "hint:" in proc.stderr
    assert _digest(cli.repo) == before
    assert not (tmp_path / "o").exists()


def test_passphrase_file_and_no_passphrase(cli, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    env = {k: v for k, v in cli.env.items() if k != "BACKBEAT_PASSWORD"}
    cli.env = env
    cli("init", "--password-file", str(pw))
    assert cli("snapshots", "--password-file", str(pw)).returncode == 0
    proc = cli("snapshots", ok=(1,), stdin=open(os.devnull))
    assert "no passphrase given" in proc.stderr and "BACKBEAT_PASSWORD" in proc.stderr
    assert "no OS keychain" in proc.stderr


def test_missing_and_non_repository_locations(cli, tmp_path):
    proc = cli("snapshots", ok=(1,))
    assert "no repository at this location" in proc.stderr and "backbeat init" in proc.stderr
    odd = tmp_path / "odd"
    (odd / "keys").mkdir(parents=True)
    (odd / "keys" / ("ab" * 32)).write_text("{}")  # a key file's name, and no config
    proc = cli("snapshots", "--repo", str(odd), repo=False, ok=(1,))
    assert "not a Backbeat repository" in proc.stderr
    cli("init")
    assert "already exists" in cli("init", ok=(1,)).stderr


def test_unreadable_files_and_folders_are_skipped_with_warnings(cli, tmp_path):
    src = tmp_path / "src"
    (src / "secret dir").mkdir(parents=True)
    (src / "secret dir" / "inside").write_text("hidden")
    (src / "locked.txt").write_text("locked")
    (src / "fine.txt").write_text("fine")
    os.chmod(src / "locked.txt", 0)
    os.chmod(src / "secret dir", 0)
    cli("init")
    try:
        proc = cli("backup", str(src), "--json", prefix=NO_DAC, ok=(3,))
    finally:
        os.chmod(src / "secret dir", 0o755)
    assert "locked.txt" in proc.stderr and "secret dir" in proc.stderr and "Permission denied" in proc.stderr
    listing = cli("ls", "latest").stdout
    assert "src/fine.txt" in listing and "locked.txt" not in listing
    assert "1 item" not in proc.stdout  # --json prints only the JSON object
    snap = cli.json("snapshots")[-1]
    assert snap["summary"]["warnings"] == 2


def test_special_files_are_left_out_with_a_note(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "regular").write_text("x")
    os.mkfifo(src / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "sock"))
    cli("init")
    try:
        proc = cli("backup", str(src))
    finally:
        sock.close()
    assert "note:" in proc.stderr and "a FIFO" in proc.stderr and "a socket" in proc.stderr
    listing = cli("ls", "latest").stdout
    assert "regular" in listing and "fifo" not in listing


def test_file_changing_while_read_is_retried_then_skipped(backbeat_home, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    busy = src / "busy.log"
    busy.write_bytes(os.urandom(48 << 20))
    (src / "calm.txt").write_text("calm")
    backend = LocalBackend(tmp_path / "repo")
    Repository.create(backend, PASSWORD)
    session = open_session(backend, PASSWORD)
    stop = threading.Event()

    def touch():
        n = 0
        while not stop.is_set():
            n += 1
            os.utime(busy, ns=(n, n))

    t = threading.Thread(target=touch)
    t.start()
    try:
        events = []
        summary = run_backup(session, start_scan([str(src)]), events=events.append)
    finally:
        stop.set()
        t.join()
    assert summary.warnings == 1
    assert any("changed while being read" in s.reason and s.path.endswith("busy.log") for s in summary.skipped)
    assert summary.files_new == 1  # calm.txt


def test_file_vanishing_before_read_is_skipped(backbeat_home, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(50):
        (src / f"f{i:02}").write_bytes(os.urandom(1000))
    backend = LocalBackend(tmp_path / "repo")
    Repository.create(backend, PASSWORD)
    session = open_session(backend, PASSWORD)
    real_classify = backup._Run.classify

    def classify_then_delete(self, *args):  # between the scan and the read
        (src / "f07").unlink()
        return real_classify(self, *args)

    monkeypatch.setattr(backup._Run, "classify", classify_then_delete)
    summary = run_backup(session, start_scan([str(src)]))
    assert [s.reason for s in summary.skipped] == ["it was deleted before it could be read"]
    assert summary.files_new == 49


def test_login_without_a_keychain_says_what_to_do_instead(cli):
    proc = cli("login", "s3://bucket/prefix", repo=False, ok=(1,), stdin=open(os.devnull))
    assert "no OS keychain is available" in proc.stderr and "AWS_ACCESS_KEY_ID" in proc.stderr


def test_a_fifo_or_a_link_swapped_in_after_the_scan_neither_blocks_nor_redirects(backbeat_home, tmp_path):
    """Between the scan and the read, one file becomes a FIFO (nobody writes to it: opening it
    used to block the backup for ever) and another a link to a secret (opening it used to read
    the secret): both are left for next time, with a warning, and the rest is backed up."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pipe", "link", "calm.txt"):
        (src / name).write_bytes(os.urandom(1000))
    (tmp_path / "secret").write_text("not for the backup")
    backend = LocalBackend(tmp_path / "repo")
    Repository.create(backend, PASSWORD)
    session = open_session(backend, PASSWORD)
    scanning = start_scan([str(src)])
    scanning.result()
    (src / "pipe").unlink()
    os.mkfifo(src / "pipe")
    (src / "link").unlink()
    os.symlink(tmp_path / "secret", src / "link")
    done = threading.Event()
    result = {}

    def run() -> None:
        result["summary"] = run_backup(session, scanning)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(30), "the backup hangs on the FIFO"
    summary = result["summary"]
    assert summary.files_new == 1 and summary.warnings == 2
    assert sorted(os.path.basename(s.path) for s in summary.skipped) == ["link", "pipe"]
    assert all("no longer a regular file" in s.reason for s in summary.skipped)
    assert summary.bytes_read == 1000  # the secret was never read
