"""The app against a real engine: a repository in a folder, a folder to back up, the settings pointing at both."""

import os

import pytest

from engine.config.settings import Settings, save_settings
from engine.service import BackupService
from tests.conftest import PASSWORD

pytest.importorskip("PySide6")


@pytest.fixture
def desktop(qtbot, tmp_path, request):
    """(bridge, tray, window) of the running app, with `src` (two files) and a repository set up;
    protection is not started, so each test drives the jobs it is about (tests/app/test_protection.py
    starts it). Parametrized indirectly, the repository's pack size."""
    from PySide6.QtWidgets import QApplication

    from app.main import start

    src = tmp_path / "Documents"
    (src / "Taxes").mkdir(parents=True)
    (src / "letter.txt").write_text("Dear friend\n" * 100)
    (src / "Taxes" / "2025.pdf").write_bytes(os.urandom(200_000))
    repo = tmp_path / "repo"
    service = BackupService(str(repo))
    service.init(PASSWORD, getattr(request, "param", None))
    service.close()
    save_settings(Settings(folders=(str(src),), destination=str(repo)))
    bridge, tray, window = start(QApplication.instance(), PASSWORD, protect=False)  # the pages, one job at a time
    qtbot.addWidget(window)
    yield bridge, tray, window, src
    bridge.close()


@pytest.fixture
def desktop_s3(qtbot, tmp_path, s3_repo):
    """The app backing up to the real S3 server at a fixed 256 KB/s, with a 2 MiB file to send."""
    from PySide6.QtWidgets import QApplication

    from app.main import start
    from engine.config.bandwidth import BandwidthPolicy

    src = tmp_path / "Videos"
    src.mkdir()
    (src / "clip.mov").write_bytes(os.urandom(2 << 20))
    service = BackupService(s3_repo)
    service.init(PASSWORD)
    service.close()
    save_settings(Settings(BandwidthPolicy("fixed", 256 * 1024), folders=(str(src),), destination=s3_repo))
    bridge, tray, window = start(QApplication.instance(), PASSWORD, protect=False)  # the pages, one job at a time
    qtbot.addWidget(window)
    yield bridge, tray, window, src
    bridge.close()
