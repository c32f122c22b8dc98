"""A restore never writes outside its target: not through a symbolic link already in the target,
not through one the snapshot itself holds, not through one swapped in while it runs."""

import os
import stat

from bench.datasets import assert_same_tree
from engine.base.events import Progress
from engine.service import BackupService
from tests.conftest import PASSWORD, small_tmpfs
from tests.jobs import run_restore


def test_a_symlinked_folder_in_the_restore_target_is_not_followed(tmp_path):
    src = tmp_path / "src"
    (src / "docs").mkdir(parents=True)
    (src / "docs" / "letter.txt").write_text("dear")
    (src / "top.txt").write_text("top")
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    service.backup([str(src)])
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    (target / "src").mkdir(parents=True)
    os.symlink(outside, target / "src" / "docs")  # planted where a folder will be restored
    summary = service.restore("latest", str(target))
    assert list(outside.iterdir()) == []  # nothing written through the link
    assert (target / "src" / "top.txt").read_text() == "top"
    (skipped,) = summary.failed
    assert skipped.path.endswith("src/docs") and "symbolic link" in skipped.reason
    service.close()


def test_links_in_a_snapshot_are_restored_as_links_never_written_through(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, src / "escape")  # a link pointing out of the tree, as a user may have one
    (src / "file.txt").write_text("x")
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    service.backup([str(src)])
    target = tmp_path / "target"
    service.restore("latest", str(target))
    assert os.readlink(target / "src" / "escape") == str(outside)
    assert list(outside.iterdir()) == []
    service.close()


def _swapping_restore(tmp_path, swap):
    """Back up six 300 KB files (one pack each: the restore writes them one job after another),
    then restore them as this process (root, on the CI machines), calling `swap(target)` once the
    first pack is written: what a user who owns the target could do meanwhile."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for i in range(3):
        (src / f"a{i}.bin").write_bytes(os.urandom(300_000))
        (src / "sub" / f"b{i}.bin").write_bytes(os.urandom(300_000))
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD, pack_size=256 * 1024)
    service.unlock(PASSWORD)
    service.backup([str(src)])
    target = tmp_path / "target"
    swapped = []

    def events(ev):
        if isinstance(ev, Progress) and ev.phase == "restoring" and not swapped:
            swapped.append(swap(target))

    summary = run_restore(service.session, service.snapshots()[-1], str(target), events=events, workers=1)
    service.close()
    assert swapped
    return src, target, summary


def test_a_staging_folder_swapped_for_a_link_during_a_root_restore_redirects_nothing(tmp_path):
    """Issue 30: the staging folder was used by path: swapped for a link to a folder of links, root
    wrote backup content into a 0600 root-only file and made it 0644. It is now used only through
    the descriptor of the folder this process made."""
    secret = tmp_path / "root-only"
    secret.write_bytes(b"secret")
    secret.chmod(0o600)
    evil = tmp_path / "evil"
    for shard in range(256):
        (evil / str(shard)).mkdir(parents=True)
    for n in range(64):
        os.symlink(secret, evil / str(n % 256) / str(n))

    def swap(target):
        (staging,) = [p for p in target.iterdir() if p.name.startswith(".backbeat-restoring-")]
        staging.rename(tmp_path / "moved-away")
        os.symlink(evil, staging)
        return staging

    src, target, summary = _swapping_restore(tmp_path, swap)
    assert secret.read_bytes() == b"secret" and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert summary.failed == ()
    assert_same_tree(src, target / "src")


def test_a_folder_swapped_for_a_link_during_a_restore_gets_no_file_and_no_mode(tmp_path):
    """A folder of the target replaced by a link (to a folder of root's) after it was made: the
    files meant for it, and its permissions, must not go through the link. Each file is named as it
    becomes whole, through the folder's descriptor: once a worker has the folder open, its files
    go on into the folder that was moved away; opened after the swap, it fails, and they are said."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)

    def swap(target):
        (target / "src" / "sub").rename(tmp_path / "sub-moved")
        os.symlink(private, target / "src" / "sub")

    _src, target, summary = _swapping_restore(tmp_path, swap)
    assert list(private.iterdir()) == [] and stat.S_IMODE(private.stat().st_mode) == 0o700
    failed = {os.path.basename(s.path): s.reason for s in summary.failed}
    moved = {p.name for p in (tmp_path / "sub-moved").iterdir()}
    assert moved | set(failed) == {"b0.bin", "b1.bin", "b2.bin"} and not moved & set(failed)
    assert all((tmp_path / "sub-moved" / name).stat().st_size == 300_000 for name in moved)
    assert all("replaced" in reason for reason in failed.values())
    assert all((target / "src" / f"a{i}.bin").stat().st_size == 300_000 for i in range(3))


def test_files_restored_into_another_file_system_mounted_in_the_target_are_whole(tmp_path):
    """The staging folder is on the target's file system: a file for a folder that is another
    one's mount point is copied across (a rename cannot), with its mode and time."""
    src = tmp_path / "src"
    (src / "mounted").mkdir(parents=True)
    (src / "mounted" / "a.bin").write_bytes(os.urandom(300_000))
    (src / "mounted" / "a.bin").chmod(0o640)
    (src / "top.txt").write_text("top")
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    service.backup([str(src)])
    target = tmp_path / "target"
    with small_tmpfs(target / "src" / "mounted", "16m"):
        summary = service.restore("latest", str(target))
        assert summary.failed == ()
        assert_same_tree(src, target / "src")
        assert not [p for p in target.iterdir() if p.name.startswith(".backbeat-restoring-")]
    service.close()
