"""A restore never writes outside its target: not through a symbolic link already in the target,
not through one the snapshot itself holds."""

import os

from engine.service import BackupService
from tests.conftest import PASSWORD


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
