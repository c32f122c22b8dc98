"""The service keeps a history of runs (for the app's charts and support bundles)."""

from engine.service import BackupService
from tests.conftest import PASSWORD


def test_runs_are_recorded_with_their_outcome(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    summary = service.backup([str(src)])
    service.restore("latest", str(tmp_path / "out"))
    service.restore("latest", str(tmp_path / "out"))  # everything exists already: warnings
    runs = service.history()
    assert [(r["kind"], r["status"]) for r in runs] == [("restore", "warnings"), ("restore", "ok"), ("backup", "ok")]
    assert runs[-1]["snapshot"] == summary.snapshot_id and runs[-1]["summary"]["files_new"] == 1
    assert all(r["finished_ns"] >= r["started_ns"] for r in runs)
    service.close()


def test_one_service_backs_up_then_restores_what_it_just_wrote(tmp_path):
    """The session's tree cache must follow an index that grew during the session."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    service.backup([str(src)])
    assert [rel for rel, _ in service.list_files("latest")] == ["src", "src/a.txt"]
    (src / "b.txt").write_text("b")
    service.backup([str(src)])
    service.restore("latest", str(tmp_path / "out"))
    assert (tmp_path / "out" / "src" / "b.txt").read_text() == "b"
    service.close()
