"""Fixtures of the engine's tests."""

import pytest

from engine.service import BackupService
from tests.conftest import PASSWORD


@pytest.fixture
def service(tmp_path):
    """An unlocked service on a new repository in a folder, with `src/a.txt` beside it."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    service = BackupService(str(tmp_path / "repo"))
    service.init(PASSWORD)
    service.unlock(PASSWORD)
    yield service
    service.close()
