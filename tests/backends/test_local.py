import errno
import os

import pytest

from engine.backends.local import LocalBackend
from engine.base.errors import BackendError, DestinationFull
from tests.backends.conformance import K1, PACK, run_conformance, run_put_file


def _folder(tmp_path):
    (tmp_path / "repo").mkdir()
    return LocalBackend(tmp_path / "repo")


def test_conformance(tmp_path):
    run_conformance(_folder(tmp_path))


def test_put_file_moves_on_the_same_file_system(tmp_path):
    backend = _folder(tmp_path)
    run_put_file(backend, tmp_path)
    assert not (tmp_path / "outbox.pack").exists()


def test_interrupted_writes_leave_no_object(tmp_path, monkeypatch):
    backend = _folder(tmp_path)

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(DestinationFull) as err:
        backend.put(PACK, b"x" * 100)
    assert "Free some space" in err.value.hint
    monkeypatch.undo()
    assert backend.list("data/") == []
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "repo").rglob("*"))


def test_missing_drive_says_so(tmp_path):
    backend = LocalBackend(tmp_path / "unplugged" / "repo")
    with pytest.raises(BackendError) as err:
        backend.list("keys/")
    assert "not reachable" in str(err.value) and "Connect the drive" in err.value.hint


def test_a_pulled_out_drive_is_not_recreated_at_its_mount_point(tmp_path):
    mount = tmp_path / "Volumes" / "Seed"
    mount.mkdir(parents=True)
    backend = LocalBackend(mount / "backup")
    backend.put(K1, b"key")  # init may create the repository's folder
    backend.put("config", b"config")
    mount.rename(tmp_path / "unplugged")
    with pytest.raises(BackendError, match="not reachable"):
        backend.put(PACK, b"pack")
    assert not mount.exists()
