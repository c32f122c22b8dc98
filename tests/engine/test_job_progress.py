"""Progress says which job it is of, so a front end running a seed export beside the scheduler's
backup shows each where it belongs (the wizard showed the cloud backup's progress as the drive's)."""

from engine.base.events import Progress
from engine.service import BackupService
from tests.conftest import PASSWORD


def test_a_seed_exports_progress_is_marked_as_the_drives(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "photo.jpg").write_bytes(b"p" * 300_000)
    heard: list[object] = []
    service = BackupService(str(tmp_path / "cloud"), events=heard.append)
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    try:
        service.seed.export(str(tmp_path / "drive"), [str(src)])
        exported = [e for e in heard if isinstance(e, Progress)]
        heard.clear()
        service.backup([str(src)])
        backed_up = [e for e in heard if isinstance(e, Progress)]
    finally:
        service.close()
    assert exported and {e.job for e in exported} == {"seed export"}
    assert backed_up and {e.job for e in backed_up} == {""}
