"""Inputs at the edges: a file over 4 GiB, paths at the OS's limits, a permission taken away
between scan and read, a clock set back, and a file system mounted inside a restore target."""

import contextlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from bench.datasets import assert_same_tree
from engine.backends.local import LocalBackend
from engine.jobs.backup import start_scan
from engine.jobs.session import open_session
from engine.repo.repository import Repository
from engine.repo.snapshot import find_snapshot, load_snapshots
from tests.conftest import PASSWORD, small_tmpfs
from tests.e2e.test_bad_input import NO_DAC
from tests.jobs import run_backup
from tests.manual_clock import ManualClock

GIB = 1 << 30


def test_a_sparse_file_over_4_gib_backs_up_small_and_restores_sparse(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    big = src / "disk.img"
    marks = {0: b"start", 4 * GIB + 12345: b"past four gibibytes", 9 * GIB // 2 - 3: b"end"}
    with open(big, "wb") as f:
        f.truncate(9 * GIB // 2)
        for at, mark in marks.items():
            f.seek(at)
            f.write(mark)
    cli("init")
    summary = cli.json("backup", str(src))
    assert summary["bytes_read"] == 9 * GIB // 2
    assert summary["bytes_added"] < 64 << 20  # the zeros deduplicate and compress to nothing
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    out = tmp_path / "out" / "src" / "disk.img"
    assert out.stat().st_size == 9 * GIB // 2
    assert out.stat().st_blocks * 512 < 64 << 20  # restored sparse: its holes are not written
    with open(out, "rb") as f:
        for at, mark in marks.items():
            f.seek(at)
            assert f.read(len(mark)) == mark
    assert_same_tree(src, tmp_path / "out" / "src")


def _deep(root: bytes, depth: int) -> bytes:
    """Folders of 255-byte names (NAME_MAX), `depth` deep, made relative to dodge PATH_MAX."""
    fd = os.open(root, os.O_RDONLY)
    path = root
    for n in range(depth):
        name = (b"%03d" % n) + b"n" * 252
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        path += b"/" + name
    leaf = os.open(b"f" * 255, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(leaf, b"at the bottom")
    os.close(leaf)
    os.close(fd)
    return path + b"/" + b"f" * 255


def test_paths_at_the_os_limits_back_up_and_restore_even_into_a_target_that_pushes_them_past_path_max(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "short.txt").write_text("short")
    depth = (4000 - len(os.fsencode(src))) // 256 - 1
    deepest = _deep(os.fsencode(src), depth)
    assert len(deepest) > 3700  # near PATH_MAX (4096)
    cli("init")
    cli("backup", str(src))
    cli("restore", "latest", "--target", str(tmp_path / "o"))
    assert_same_tree(src, tmp_path / "o" / "src")
    far = tmp_path / ("t" * 200) / ("u" * 200)  # a restore target that pushes the bottom past PATH_MAX
    restored = cli.json("restore", "latest", "--target", str(far))  # folders are opened one name at a time
    assert (restored["files"], restored["failed"]) == (2, [])
    assert (far / "src" / "short.txt").read_text() == "short"


def test_a_permission_taken_away_between_scan_and_read_skips_only_that_file(tmp_path, backbeat_home):
    src = tmp_path / "src"
    src.mkdir()
    (src / "fine.txt").write_text("fine")
    (src / "soon-locked.txt").write_text("locked after the scan")
    Repository.create(LocalBackend(tmp_path / "repo"), PASSWORD)
    script = textwrap.dedent(
        f"""
        import os
        from engine.backends.local import LocalBackend
        from engine.jobs.backup import start_scan
        from tests.jobs import run_backup
        from engine.jobs.session import open_session
        scanning = start_scan([{str(src)!r}])
        scanning.result()
        os.chmod({str(src / "soon-locked.txt")!r}, 0)
        summary = run_backup(open_session(LocalBackend({str(tmp_path / "repo")!r}), {PASSWORD!r}), scanning)
        print(summary.files_new, summary.warnings, [s.reason for s in summary.skipped])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.run([*NO_DAC, sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    new, warnings, reasons = proc.stdout.split(" ", 2)
    assert (new, warnings) == ("1", "1") and "Permission denied" in reasons


def test_a_clock_set_back_never_makes_an_older_backup_the_latest(tmp_path, backbeat_home):
    src = tmp_path / "src"
    src.mkdir()
    backend = LocalBackend(tmp_path / "repo")
    Repository.create(backend, PASSWORD)
    session = open_session(backend, PASSWORD)
    clock = ManualClock(wall=2_000_000_000.0)
    (src / "a.txt").write_text("first")
    run_backup(session, start_scan([str(src)]), clock=clock)
    clock.wall_time -= 86400 * 30  # the battery died; the clock woke up a month behind
    (src / "a.txt").write_text("second")
    second = run_backup(session, start_scan([str(src)]), clock=clock).snapshot_id
    snaps = load_snapshots(backend, session.repo.key)
    assert find_snapshot(snaps, "latest").id == second
    assert snaps[-1].time_ns > snaps[0].time_ns


def _many_notes(tmp_path: Path) -> Path:
    """25,000 tiny files: the lists a backup or a restore keeps of them outgrow SQLite's 2 MB page
    cache, so they must be written to the temporary folder."""
    src = tmp_path / "src"
    (src / "many").mkdir(parents=True)
    for i in range(25_000):
        (src / "many" / f"note-{i:05d}.txt").write_bytes(b"%d" % i)
    return src


def _fill(folder: Path) -> Path:
    """Fill the file system `folder` is on; the file that does it (unlink it to free the space)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)
    return filler


def test_no_room_for_a_restores_plan_says_so_and_a_restore_after_freeing_space_is_whole(cli, tmp_path):
    """The plan lives in the temporary folder (SQLITE_TMPDIR here)."""
    with small_tmpfs(tmp_path / "small-tmp", "1m") as tmp:
        src = _many_notes(tmp_path)
        cli("init")
        cli("backup", str(src))
        filler = _fill(tmp)
        env = {"SQLITE_TMPDIR": str(tmp)}
        proc = cli("restore", "latest", "--target", str(tmp_path / "out"), env=env, ok=(1,))
        assert "no room for the restore's plan in its temporary folder" in proc.stderr, proc.stderr
        assert "Free some space" in proc.stderr and "Traceback" not in proc.stderr
        filler.unlink()
        subprocess.run(["mount", "-o", "remount,size=64m", str(tmp)], check=True)  # 1 MiB holds no such plan
        cli("restore", "latest", "--target", str(tmp_path / "out"), env=env)
        assert_same_tree(src, tmp_path / "out" / "src")


def test_no_room_for_a_backups_lists_says_so_and_the_backup_after_freeing_space_is_whole(cli, tmp_path):
    """A backup keeps its scan and its list of files to read in the temporary folder (TMPDIR)."""
    with small_tmpfs(tmp_path / "small-tmp", "1m") as tmp:
        src = _many_notes(tmp_path)
        cli("init")
        filler = _fill(tmp)
        env = {"TMPDIR": str(tmp), "SQLITE_TMPDIR": str(tmp)}
        proc = cli("backup", str(src), env=env, ok=(1,))
        assert "this computer's disk is full: there is no room for the" in proc.stderr, proc.stderr
        assert "in the temporary folder" in proc.stderr
        assert "Free some space" in proc.stderr and "Traceback" not in proc.stderr
        filler.unlink()
        subprocess.run(["mount", "-o", "remount,size=64m", str(tmp)], check=True)
        cli("backup", str(src), env=env)
        cli("restore", "latest", "--target", str(tmp_path / "out"))
        assert_same_tree(src, tmp_path / "out" / "src")


def test_a_full_local_disk_stops_the_backup_clearly_and_the_next_run_resumes(cli, tmp_path):
    with small_tmpfs(tmp_path / "small-home", "12m") as home:
        src = tmp_path / "src"
        src.mkdir()
        for i in range(6):
            (src / f"f{i}.bin").write_bytes(os.urandom(10 << 20))
        env = {"BACKBEAT_HOME": str(home)}
        cli("init", env=env)
        proc = cli("backup", str(src), env=env, ok=(1,))  # the outbox cannot hold a pack
        assert "this computer's disk is full" in proc.stderr and "Free some space" in proc.stderr
        assert "Traceback" not in proc.stderr and "Logging error" not in proc.stderr
        assert "cannot read" not in proc.stderr  # the source files were fine: it is our disk
        subprocess.run(["mount", "-o", "remount,size=256m", str(home)], check=True)
        cli("backup", str(src), env=env)
        assert cli.json("check", "--read-data", env=env)["ok"]
        cli("restore", "latest", "--target", str(tmp_path / "out"), env=env)
        assert_same_tree(src, tmp_path / "out" / "src")


def test_a_file_system_mounted_inside_the_restore_target_gets_its_files_too(cli, tmp_path):
    """Files are written in a staging folder at the target's top, then moved to their names: into
    another file system that is a copy, not a rename."""
    src = tmp_path / "src"
    (src / "inner").mkdir(parents=True)
    (src / "inner" / "a.txt").write_text("on another file system")
    (src / "b.txt").write_text("b")
    cli("init")
    cli("backup", str(src))
    with small_tmpfs(tmp_path / "out" / "src" / "inner", "4m"):
        cli("restore", "latest", "--target", str(tmp_path / "out"))
        assert_same_tree(src, tmp_path / "out" / "src")
        assert not list((tmp_path / "out").glob(".backbeat-restoring-*"))


def test_a_restore_in_place_under_a_folder_the_user_may_not_write_in(cli, tmp_path):
    """A home folder restored in place targets its parent (say /Users), where its user may not
    write: the staging folder goes into the first folder on the way that lets one be made."""
    top = tmp_path / "Users"
    (top / "alice" / "Documents").mkdir(parents=True)
    (top / "alice" / "Documents" / "letter.txt").write_text("dear")
    cli("init")
    cli("backup", str(top / "alice"))
    (top / "alice" / "Documents" / "letter.txt").unlink()
    os.chmod(top, 0o555)
    try:
        cli("restore", "latest", "--target", str(top), prefix=NO_DAC)
    finally:
        os.chmod(top, 0o755)
    assert (top / "alice" / "Documents" / "letter.txt").read_text() == "dear"
    assert not list(top.rglob(".backbeat-restoring-*"))
