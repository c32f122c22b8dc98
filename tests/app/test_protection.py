"""The app protects by itself: started with a backup set up, it backs up without a click, follows
changes within seconds, pauses and resumes from the tray, and loses nothing across a restart."""

import time

import pytest

from engine.config.settings import Settings, WatchSettings, save_settings
from engine.service import BackupService, Kind
from tests.conftest import PASSWORD
from tests.manual_clock import ManualClock

pytest.importorskip("PySide6")

#: the watcher's own timings, made short so the test does not wait for the defaults' minutes
QUICK = WatchSettings(quiet=0.5, max_wait=2.0, interval=0.0)


def _files(location: str) -> dict[str, bytes]:
    """What the newest snapshot holds, read back from the repository by a separate service."""
    service = BackupService(location)
    service.unlock(PASSWORD)
    try:
        snap = service.snapshots()[-1]
        return {p: e.size for p, e in service.list_files(snap.id) if e.kind == Kind.FILE}
    finally:
        service.close()


def _set_up(tmp_path):
    """A backup set up as the first run leaves it: a repository, a folder chosen, short watch timings."""
    src = tmp_path / "Documents"
    src.mkdir()
    (src / "letter.txt").write_text("Dear friend\n")
    repo = tmp_path / "repo"
    made = BackupService(str(repo))
    made.init(PASSWORD)
    made.close()
    save_settings(Settings(folders=(str(src),), destination=str(repo), watch=QUICK))
    return src, repo


def _app(qtbot):
    from PySide6.QtWidgets import QApplication

    from app.main import start

    bridge, tray, window = start(QApplication.instance(), PASSWORD)
    qtbot.addWidget(window)
    return bridge, tray, window


def test_the_app_backs_up_by_itself_follows_changes_pauses_and_survives_a_restart(qtbot, tmp_path):
    src, repo = _set_up(tmp_path)

    bridge, tray, window = _app(qtbot)
    try:
        # no click: the first backup starts with the app
        with qtbot.waitSignal(bridge.job_finished, timeout=30000, check_params_cb=lambda k, r: k == "backup"):
            pass
        assert tray.status_action.text() == "Protected — last backup just now" and tray.state == "idle"
        assert "Documents/letter.txt" in _files(str(repo))

        # a file saved in a watched folder is in a snapshot within 10 s
        saved = time.monotonic()
        (src / "notes.txt").write_text("saved by the user")
        with qtbot.waitSignal(bridge.job_finished, timeout=10000, check_params_cb=lambda k, r: k == "backup"):
            pass
        assert time.monotonic() - saved < 10
        assert "Documents/notes.txt" in _files(str(repo))
        assert [title for title, _ in tray.said] == ["Your files are protected"]  # once, not per snapshot

        # paused from the tray: nothing runs; resumed: the change made meanwhile is protected
        tray.pause_action.trigger()
        qtbot.waitUntil(lambda: tray.state == "paused", timeout=3000)
        (src / "while-paused.txt").write_text("made while paused")
        with qtbot.assertNotEmitted(bridge.job_started, wait=4000):
            pass
        assert "Documents/while-paused.txt" not in _files(str(repo))
        with qtbot.waitSignal(bridge.job_finished, timeout=15000, check_params_cb=lambda k, r: k == "backup"):
            tray.pause_action.trigger()
        assert "Documents/while-paused.txt" in _files(str(repo))
    finally:
        bridge.close()
        window.close()

    # quit, change a file while the app is not running, start again: the first run catches up
    (src / "while-closed.txt").write_text("made while the app was closed")
    bridge, tray, window = _app(qtbot)
    try:
        with qtbot.waitSignal(bridge.job_finished, timeout=30000, check_params_cb=lambda k, r: k == "backup"):
            pass
        assert {
            "Documents/letter.txt",
            "Documents/notes.txt",
            "Documents/while-paused.txt",
            "Documents/while-closed.txt",
        } <= set(_files(str(repo)))
    finally:
        bridge.close()
        window.close()


def test_the_app_starts_while_the_destination_is_unreachable_and_says_so(qtbot, tmp_path, monkeypatch):
    """A laptop at login before its Wi-Fi, or a backup drive not plugged in: no crash, no blank
    window; the problem is shown, and protection starts once the destination is back. A
    notification comes only once nothing has been backed up for a day, and only once."""
    src, repo = _set_up(tmp_path)
    repo.rename(tmp_path / "unplugged")
    from app.main import _passphrase

    assert _passphrase() == PASSWORD  # found for the repository last seen there: no first-run dialog

    bridge, tray, window = _app(qtbot)
    try:
        away = "Can't reach your backup — trying again by itself"
        qtbot.waitUntil(lambda: tray.status_action.text() == away, timeout=30000)  # protection's own try
        assert tray.state == "attention" and tray.said == []  # away for a moment is normal
        monkeypatch.setattr("app.tray.SYSTEM_CLOCK", ManualClock(wall=time.time() + 25 * 3600))
        backup_failed = lambda kind, problem: kind == "backup"  # noqa: E731 - not the window's own questions
        for _ in range(2):  # a day later, each "Back Up Now" tries again: the user is told once
            with qtbot.waitSignal(bridge.job_failed, timeout=30000, check_params_cb=backup_failed):
                tray.backup_action.trigger()
        assert [title for title, _ in tray.said] == ["Your files are not being backed up"]
        # since "yesterday 14:02", or "Sunday 23:02" after 23:00 (a day and an hour on): engine.base.units' word
        said = tray.said[0][1]
        assert said.startswith(f"Nothing has been backed up to {repo} since ") and ": Backbeat cannot reach it." in said
        monkeypatch.undo()
        window.show()
        qtbot.waitUntil(lambda: window.status.problem.isVisible(), timeout=10000)
        (tmp_path / "unplugged").rename(repo)  # plugged in again
        with qtbot.waitSignal(bridge.job_finished, timeout=30000, check_params_cb=lambda k, r: k == "backup"):
            tray.backup_action.trigger()  # "Back Up Now" tries at once, not at the next half-minute try
        assert tray.status_action.text() == "Protected — last backup just now"
    finally:
        bridge.close()
        window.close()


def test_a_second_start_of_the_app_shows_the_first_one_and_ends(qtbot, tmp_path):
    import os
    import subprocess
    import sys

    from app.single import SingleInstance

    first = SingleInstance()
    assert first.first
    code = "from app.main import main; print(main(['backbeat-app']))"  # what the Dock, a login item or a user starts
    env = os.environ | {"PYTHONPATH": os.getcwd(), "QT_QPA_PLATFORM": "offscreen"}
    with qtbot.waitSignal(first.activated, timeout=20000):
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out.strip() == "0"  # it ended at once, with no window of its own
    first.release()
    assert SingleInstance().first  # once the first copy is gone, a start runs
