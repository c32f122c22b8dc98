"""Questions the front ends ask the service: the size of a selection, the repository a destination holds."""

import pytest

from engine.service import BackupService


def test_the_size_of_a_selection_is_what_a_backup_reads_excludes_honoured(tmp_path):
    src = tmp_path / "src"
    (src / "cache").mkdir(parents=True)
    (src / "keep.txt").write_bytes(b"k" * 1000)
    (src / "skip.tmp").write_bytes(b"s" * 5000)
    (src / "cache" / "big.bin").write_bytes(b"c" * 20000)
    service = BackupService(str(tmp_path / "repo"))
    assert service.selection_bytes([str(src)]) == 26000
    assert service.selection_bytes([str(src)], ["*.tmp", "cache"]) == 1000


def test_a_destination_out_of_reach_is_known_by_the_repository_it_last_held(tmp_path):
    from engine.base.errors import RepositoryNotFound

    service = BackupService(str(tmp_path / "drive"))
    made = service.init("pw")
    (tmp_path / "drive").rename(tmp_path / "unplugged")
    assert BackupService(str(tmp_path / "drive")).repository_id() == made
    with pytest.raises(RepositoryNotFound):
        BackupService(str(tmp_path / "never-seen")).repository_id()
