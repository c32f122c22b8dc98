"""Traps a user fell into on the command line: each test failed before its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.datasets import assert_same_tree
from engine.config.bandwidth import BandwidthPolicy
from engine.config.settings import Settings, load_settings, save_settings, settings_path
from tests.conftest import everything_chosen


def test_two_backups_of_one_repository_at_once_run_one_after_the_other(cli, s3_repo, dataset_copy, tmp_path):
    """The second says it waits for the first; both finish, no warning, no traceback, and every
    file restores (the first run's half-written packs are its own: the second never deletes them)."""
    cli("init", "--repo", s3_repo, repo=False)
    cmd = [sys.executable, "-m", "engine", "backup", str(dataset_copy), "--repo", s3_repo, "--limit", "8M"]
    first = subprocess.Popen(cmd, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    second = subprocess.Popen(cmd + ["--json"], env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out1, err1 = first.communicate(timeout=300)
    out2, err2 = second.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert "waiting for the other backup of this computer to finish" in err2
    for err in (err1, err2):
        assert "Traceback" not in err and "deleted before it could be read" not in err, err
    assert json.loads(out2)["files_new"] == 0  # the first one had sent everything
    cli("restore", "latest", "--target", str(tmp_path / "out"), "--repo", s3_repo, repo=False)
    assert_same_tree(dataset_copy, tmp_path / "out" / "src")


def test_restore_onto_an_existing_file_says_what_to_do(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    cli("init")
    cli("backup", str(src))
    (tmp_path / "a-file").write_text("not a folder")
    proc = cli("restore", "latest", "--target", str(tmp_path / "a-file"), ok=(2,))
    assert "cannot restore there" in proc.stderr and "is a file, not a folder" in proc.stderr
    assert "hint: Give --target a folder" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_every_cli_setter_changes_only_what_it_sets(cli):
    full = everything_chosen()
    setters = {
        ("limit", "512"): {"bandwidth": BandwidthPolicy("fixed", 512 * 1024.0)},  # KiB/s, as rclone reads it
        ("limit", "off"): {"bandwidth": BandwidthPolicy("unlimited")},
        ("limit", "--kbit", "800"): {"bandwidth": BandwidthPolicy("fixed", 100_000.0)},
        ("limit", "--on-battery", "continue"): {"pause_on_battery": False},
        ("limit", "--never-on-wifi", "Train", "--allow-wifi", "Café Lumière"): {
            "never_upload_on_wifi": ("iPhone de Al", "Train")
        },
    }
    for args, changed in setters.items():
        save_settings(full)
        cli(*args, repo=False)
        after = load_settings()
        for name in Settings.__dataclass_fields__:
            want = changed.get(name, getattr(full, name))
            assert getattr(after, name) == want, (args, name, getattr(after, name))
    assert json.loads(settings_path().read_text())["folders"] == list(full.folders)


def test_ls_of_a_path_the_snapshot_lacks_says_so(cli, tmp_path):
    src = tmp_path / "src"
    (src / "docs").mkdir(parents=True)
    (src / "docs" / "a.txt").write_text("a")
    cli("init")
    cli("backup", str(src))
    assert "a.txt" in cli("ls", "latest", "src/docs").stdout
    proc = cli("ls", "latest", "nosuchpath", ok=(1,))
    assert "error: not in this snapshot: nosuchpath is not in snapshot" in proc.stderr
    assert "no such snapshot" not in proc.stderr and proc.stdout == ""
    proc = cli("restore", "latest", "--target", str(tmp_path / "out"), "--include", "nosuchpath", ok=(1,))
    assert "not in this snapshot" in proc.stderr and "no such snapshot" not in proc.stderr


def test_read_only_commands_never_upload_what_a_killed_backup_left(cli, s3_server, s3_repo, tmp_path, backbeat_home):
    """A killed backup leaves packs in the outbox: snapshots, status, ls and check leave them
    there and send nothing (even while uploads are paused); the next backup delivers them."""
    bucket = s3_repo.split("/")[-2]
    src = tmp_path / "src"
    src.mkdir()
    (src / "small.txt").write_text("first")
    cli("init", "--repo", s3_repo, repo=False)
    cli("backup", str(src), "--repo", s3_repo, repo=False)
    (src / "big.bin").write_bytes(os.urandom(12 << 20))
    cmd = [sys.executable, "-m", "engine", "backup", str(src), "--repo", s3_repo, "--limit", "512k", "-q"]
    proc = subprocess.Popen(cmd, env=cli.env)
    outbox = backbeat_home / "outbox"
    deadline = time.monotonic() + 60
    while not list(outbox.rglob("*.pack")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # sealed, then journaled
    proc.kill()
    proc.wait()
    left = sorted(p.name for p in outbox.rglob("*.pack"))
    assert left, "the backup was killed before it sealed a pack"
    before = s3_server.objects(bucket)
    cli("pause", repo=False)
    for args in (["snapshots"], ["status"], ["ls", "latest"], ["check"]):
        cli(*args, "--repo", s3_repo, repo=False)
    assert sorted(p.name for p in outbox.rglob("*.pack")) == left
    assert {k: v for k, v in s3_server.objects(bucket).items() if "/data/" in k} == {
        k: v for k, v in before.items() if "/data/" in k
    }
    cli("resume", repo=False)
    cli("backup", str(src), "--repo", s3_repo, repo=False)
    assert not list(outbox.rglob("*.pack"))
    cli("restore", "latest", "--target", str(tmp_path / "out"), "--repo", s3_repo, repo=False)
    assert (tmp_path / "out" / "src" / "big.bin").read_bytes() == (src / "big.bin").read_bytes()


def test_a_weak_new_passphrase_is_warned_about(cli):
    proc = cli("init", env={"BACKBEAT_PASSWORD": "x"})
    assert "warning: weak passphrase. Too short" in proc.stderr


def test_a_bare_rate_is_kib_per_second_and_help_says_so(cli):
    said = " ".join(cli("limit", "--help", repo=False).stdout.split())
    assert "a bare number such as 512 is KiB/s, as in rclone" in said
    assert cli("limit", "512", repo=False).stdout == cli("limit", "512k", repo=False).stdout
    assert "Limit to 512 KB/s" in cli("limit", "512", repo=False).stdout


def test_a_file_written_just_before_a_backup_is_read_again_and_not_counted_changed(cli, tmp_path):
    """Written in the second before a backup, a file may change again within the same mtime: the
    next backup reads it again, and calls it unchanged when it is; a real change is still seen."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "old.txt").write_text("old")
    os.utime(src / "old.txt", (1_700_000_000, 1_700_000_000))
    cli("init")
    cli("backup", str(src))
    (src / "fresh.txt").write_text("written just now")
    first = cli.json("backup", str(src))
    assert (first["files_new"], first["files_changed"]) == (1, 0)
    again = cli.json("backup", str(src))
    assert again["bytes_read"] == len("written just now")  # read again, to be sure
    assert (again["files_new"], again["files_changed"], again["files_unchanged"]) == (0, 0, 2)
    mtime = os.stat(src / "fresh.txt").st_mtime_ns
    (src / "fresh.txt").write_text("written again!!!")  # same size, same mtime: only the bytes differ
    os.utime(src / "fresh.txt", ns=(mtime, mtime))
    changed = cli.json("backup", str(src))
    assert (changed["files_new"], changed["files_changed"]) == (0, 1)
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    assert (tmp_path / "out" / "src" / "fresh.txt").read_text() == "written again!!!"


def test_ctrl_c_while_the_command_is_still_starting_ends_it_in_the_same_words(cli, tmp_path):
    """The command line's imports take a few hundred milliseconds (more beside a busy backup): a
    Ctrl-C then killed Python by the signal, with no word (seen once in the Ctrl-C test under load)."""
    import signal

    for delay in (0.06, 0.1, 0.15):  # after the interpreter's own start-up, during the command's imports
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine", "snapshots", "--repo", str(tmp_path / "nowhere")],
            env=cli.env,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 130, (delay, proc.returncode, err)
        assert "stopping…" in err and "interrupted: the repository is consistent" in err and "Traceback" not in err
