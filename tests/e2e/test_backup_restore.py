"""Backup, mutate, backup, restore both snapshots: what comes back is exactly what went in."""

import os
import stat

import engine.local.restoreplan
from bench.datasets import assert_same_tree, mutate
from engine.backends.local import LocalBackend
from engine.base.events import Progress
from engine.jobs.backup import start_scan
from engine.jobs.session import open_session
from engine.repo.repository import Repository
from engine.repo.snapshot import load_snapshots
from tests.conftest import PASSWORD
from tests.jobs import run_backup, run_restore


def test_backup_mutate_backup_restore_both(cli, dataset64, dataset_copy, tmp_path):
    cli("init")
    first = cli.json("backup", str(dataset_copy))
    assert first["files_new"] > 500 and first["files_changed"] == 0 and first["warnings"] == 0
    assert 0 < first["bytes_added"] < first["bytes_read"]  # dedup + compression

    unchanged = cli.json("backup", str(dataset_copy))
    assert unchanged["bytes_read"] == 0 and unchanged["files_unchanged"] == first["files_new"]

    mutate(dataset_copy)
    second = cli.json("backup", str(dataset_copy))
    assert second["files_changed"] >= 3 and second["files_new"] >= 30
    assert second["bytes_added"] < first["bytes_added"] * 0.25

    snaps = cli.json("snapshots")
    assert [s["id"] for s in snaps] == [first["snapshot_id"], unchanged["snapshot_id"], second["snapshot_id"]]

    cli("restore", first["snapshot_id"][:8], "--target", str(tmp_path / "r1"))
    cli("restore", "latest", "--target", str(tmp_path / "r2"))
    for original, restored in ((dataset64, tmp_path / "r1" / "src"), (dataset_copy, tmp_path / "r2" / "src")):
        assert_same_tree(original, restored)
    assert "no problems found" in cli("check", "--read-data").stdout


def test_files_either_side_of_the_least_chunk_come_back_whole(cli, tmp_path):
    """A file smaller than the chunker's least size is read by one read into one blob (most of a
    home's files); from that size on, through the chunker. Both come back byte for byte."""
    src = tmp_path / "src"
    src.mkdir()
    least = 256 * 1024
    sizes = [0, 1, least - 1, least, least + 1, 3 * least]
    for size in sizes:
        (src / f"f{size}").write_bytes(os.urandom(size))
    cli("init")
    summary = cli.json("backup", str(src))
    assert summary["files_new"] == len(sizes) and summary["warnings"] == 0
    assert summary["bytes_read"] == sum(sizes)
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    assert_same_tree(src, tmp_path / "out" / "src")


def _odd_tree(root):
    (root / "empty dir").mkdir(parents=True)
    (root / "empty file").write_bytes(b"")
    (root / "café ünïcode ✓.txt").write_text("non-ascii name")
    os.mkdir(os.path.join(os.fsencode(root), b"latin1-\xe9\xff"))
    with open(os.path.join(os.fsencode(root), b"latin1-\xe9\xff", b"not utf8 \xfe.bin"), "wb") as f:
        f.write(os.urandom(300_000))
    (root / "read only.txt").write_text("ro")
    os.chmod(root / "read only.txt", 0o444)
    (root / "script.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "script.sh", 0o750)
    (root / "locked dir").mkdir()
    (root / "locked dir" / "inside").write_text("x" * 5000)
    os.symlink("café ünïcode ✓.txt", root / "relative link")
    os.symlink("/nonexistent/target", root / "dangling link")
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    os.symlink("..", root / "empty dir" / "parent")
    for i, p in enumerate(sorted(root.rglob("*"))):
        os.utime(
            p,
            ns=(1_600_000_000_000_000_000 + i * 1_234_567_891, 1_600_000_000_000_000_000 + i * 987_654_321),
            follow_symlinks=False,
        )
    os.chmod(root / "locked dir", 0o555)


def _meta(root):
    out = {}
    for dirpath, dirs, files in os.walk(os.fsencode(root)):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, os.fsencode(root))
            link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            data = open(p, "rb").read() if stat.S_ISREG(st.st_mode) else None
            mode = None if link is not None else st.st_mode
            out[rel] = (mode, st.st_mtime_ns, link, data)
    return out


def test_metadata_and_odd_names_survive(cli, tmp_path):
    src = tmp_path / "odd"
    _odd_tree(src)
    cli("init")
    cli("backup", str(src))
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    assert _meta(tmp_path / "out" / "odd") == _meta(src)
    assert_same_tree(src, tmp_path / "out" / "odd")
    listing = cli("ls", "latest").stdout
    assert "café ünïcode ✓.txt" in listing and "loop-a -> loop-b" in listing


def test_restore_include_and_no_silent_overwrite(cli, tmp_path):
    src = tmp_path / "docs"
    (src / "a").mkdir(parents=True)
    (src / "a" / "keep.txt").write_text("keep")
    (src / "b.txt").write_text("b")
    cli("init")
    cli("backup", str(src))
    out = tmp_path / "out"
    cli("restore", "latest", "--target", str(out), "--include", "docs/a")
    assert (out / "docs" / "a" / "keep.txt").read_text() == "keep" and not (out / "docs" / "b.txt").exists()
    (out / "docs" / "a" / "keep.txt").write_text("mine")
    again = cli("restore", "latest", "--target", str(out), "--include", str(src / "a"), ok=(3,))
    assert "already exists" in again.stderr
    assert (out / "docs" / "a" / "keep.txt").read_text() == "mine"
    cli("restore", "latest", "--target", str(out), "--overwrite")
    assert (out / "docs" / "a" / "keep.txt").read_text() == "keep"
    missing = cli("restore", "latest", "--target", str(out), "--include", "docs/nope", ok=(1,))
    assert "not in snapshot" in missing.stderr


def test_a_restore_in_place_brings_back_what_was_deleted_and_leaves_the_rest(cli, tmp_path):
    src = tmp_path / "docs"
    src.mkdir()
    for i in range(5):
        (src / f"{i}.txt").write_text(str(i))
    cli("init")
    cli("backup", str(src))
    (src / "0.txt").unlink()
    (src / "1.txt").write_text("changed since")
    proc = cli("restore", "latest", "--target", str(tmp_path), ok=(3,))
    assert (src / "0.txt").read_text() == "0"
    assert (src / "1.txt").read_text() == "changed since" and "1.txt: already exists" in proc.stderr
    assert "3 file(s) were already there, the same" in proc.stdout
    assert proc.stderr.count("already exists") == 1
    assert "1 item(s) were not restored because something different" in proc.stdout
    assert "add --overwrite to replace them" in proc.stdout and "(listed above)" not in proc.stdout


def test_extended_attributes_survive_and_cached_files_keep_them(cli, tmp_path):
    src = tmp_path / "x"
    src.mkdir()
    (src / "tagged.txt").write_text("tagged")
    try:
        os.setxattr(src / "tagged.txt", b"user.backbeat.tag", b"blue \x00\xff")
        os.setxattr(src, b"user.backbeat.folder", b"yes")
    except OSError:
        import pytest

        pytest.skip("this file system has no user extended attributes")
    os.utime(src / "tagged.txt", ns=(1_600_000_000_000_000_000,) * 2)  # not "too fresh" for the files cache
    cli("init")
    cli("backup", str(src))
    unchanged = cli.json("backup", str(src))  # tree rebuilt from the files cache
    assert unchanged["files_unchanged"] == 1
    os.setxattr(src / "tagged.txt", b"user.backbeat.tag", b"red")  # changes only ctime: read again
    assert cli.json("backup", str(src))["files_changed"] == 1
    for snap, tag in ((unchanged["snapshot_id"], b"blue \x00\xff"), ("latest", b"red")):
        out = tmp_path / f"out-{tag[:3].decode()}"
        cli("restore", snap, "--target", str(out))
        assert os.getxattr(out / "x" / "tagged.txt", b"user.backbeat.tag") == tag
        assert os.getxattr(out / "x", b"user.backbeat.folder") == b"yes"


def test_a_blob_shared_by_more_files_than_a_pack_job_takes_restores_into_all(tmp_path, monkeypatch, backbeat_home):
    """The plan hands a pack out in jobs of bounded size: one blob's places may span several."""
    monkeypatch.setattr(engine.local.restoreplan, "PACK_JOB_PLACES", 4)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(30):
        (src / f"same-{i:02d}.txt").write_text("one blob for all of us\n")
        os.utime(src / f"same-{i:02d}.txt", ns=(1_600_000_000_000_000_000 + i, 1_600_000_000_000_000_000 + i))
    (src / "own.bin").write_bytes(os.urandom(3 << 20))
    backend = LocalBackend(tmp_path / "repo")
    Repository.create(backend, PASSWORD)
    session = open_session(backend, PASSWORD)
    run_backup(session, start_scan([str(src)]))
    summary = run_restore(session, load_snapshots(backend, session.repo.key)[-1], str(tmp_path / "out"))
    assert (summary.files, summary.failed) == (31, ())
    out = tmp_path / "out" / "src"
    for i in range(30):
        assert (out / f"same-{i:02d}.txt").read_text() == "one blob for all of us\n"
        assert (out / f"same-{i:02d}.txt").stat().st_mtime_ns == 1_600_000_000_000_000_000 + i
    assert (out / "own.bin").read_bytes() == (src / "own.bin").read_bytes()


def test_a_restored_file_takes_its_name_and_time_as_soon_as_it_is_whole(tmp_path, backbeat_home):
    """Files are named as the pack job that made them whole ends, not all at the end: a user
    restoring a whole Mac can open what has arrived, and a restore cut off keeps it."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):  # below the chunker's least size (256 KiB): one blob each, never cut in two
        (src / f"f{i}.bin").write_bytes(os.urandom(200_000))
        os.utime(src / f"f{i}.bin", ns=(1_600_000_000_000_000_000 + i, 1_600_000_000_000_000_000 + i))
    backend = LocalBackend(tmp_path / "repo")
    Repository.create(backend, PASSWORD, pack_size=128 * 1024)  # one pack each: one restore job each
    session = open_session(backend, PASSWORD)
    run_backup(session, start_scan([str(src)]))
    out = tmp_path / "out" / "src"
    seen: list[set[str]] = []

    def events(ev):
        if isinstance(ev, Progress) and ev.phase == "restoring" and not seen:
            seen.append({p.name for p in out.iterdir()})
            for name in seen[0]:
                assert (out / name).read_bytes() == (src / name).read_bytes()
                assert (out / name).stat().st_mtime_ns == (src / name).stat().st_mtime_ns

    snap = load_snapshots(backend, session.repo.key)[-1]
    summary = run_restore(session, snap, str(tmp_path / "out"), events=events, workers=1)
    assert (summary.files, summary.failed) == (4, ())
    assert 1 <= len(seen[0]) < 4  # the first pack's file (the next job may be done too) before the end


def test_files_scattered_over_the_tree_in_a_pack_cost_each_folder_one_open(tmp_path, backbeat_home, monkeypatch):
    """A pack holds files in the backup's reading order (smallest first here), one from each folder
    in turn; its job names them in path order, so each folder on their way is opened about once,
    not once per file (more folders than a worker keeps open)."""
    src = tmp_path / "src"
    folders, per_folder = 150, 3
    for f in range(folders):
        (src / f"d{f:03d}").mkdir(parents=True)
        for j in range(per_folder):  # sizes 1, 3, 7 KiB: all the first files go first, then the second...
            (src / f"d{f:03d}" / f"n{j}.bin").write_bytes(os.urandom(((2 << j) - 1) * 1024))
    backend = LocalBackend(tmp_path / "repo")
    Repository.create(backend, PASSWORD)
    session = open_session(backend, PASSWORD)
    run_backup(session, start_scan([str(src)]))
    snap = load_snapshots(backend, session.repo.key)[-1]
    opened_folders, real_open = [], os.open

    def counting_open(path, flags, *args, **kwargs):
        if flags & os.O_DIRECTORY:
            opened_folders.append(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", counting_open)
    summary = run_restore(session, snap, str(tmp_path / "out"), workers=1)
    monkeypatch.undo()
    assert (summary.files, summary.failed) == (folders * per_folder, ())
    assert_same_tree(src, tmp_path / "out" / "src")
    tree = [p for p in opened_folders if not os.fsencode(p).isdigit()]  # not the staging's numbered ones
    # the plan opens each folder once and so does setting folders' times; the pack worker once more
    assert len(tree) <= 3 * (folders + 1) + 6, len(tree)
