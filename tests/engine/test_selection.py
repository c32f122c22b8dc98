"""What the app shows before a seed export: the size a backup of the selection would read."""

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
