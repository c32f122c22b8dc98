"""The macOS platform against the real system (run on a Mac: the macOS CI workflow,
.github/workflows/macos.yml). Skipped elsewhere: Linux cannot load these frameworks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "darwin", reason="macOS only: runs in the macOS CI workflow")


@pytest.fixture
def system():
    from engine.platform.darwin import DarwinPlatform

    return DarwinPlatform()


def _fd(path, flags=os.O_RDONLY):
    return os.open(path, flags)


def test_extended_attributes_round_trip_finder_tags_included(system, tmp_path):
    f = tmp_path / "tagged"
    f.write_text("x")
    tags = b"bplist00\xa1\x01SRed\x08\n\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x02"
    fd = _fd(f, os.O_RDWR)
    try:
        system.set_xattr(fd, b"com.apple.metadata:_kMDItemUserTags", tags)
    finally:
        os.close(fd)
    assert (b"com.apple.metadata:_kMDItemUserTags", tags) in system.xattrs(os.fsencode(f))


def test_creation_time_is_read_and_set(system, tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    fd = _fd(f, os.O_RDWR)
    try:
        assert system.set_birthtime(fd, 1_500_000_000_250_000_000)
    finally:
        os.close(fd)
    assert system.birthtime_ns(os.fsencode(f), os.lstat(f)) == 1_500_000_000_250_000_000


def test_user_flags_are_set_and_system_ones_never(system, tmp_path):
    import stat

    f = tmp_path / "hidden"
    f.write_text("x")
    fd = _fd(f)
    try:
        system.set_flags(fd, stat.UF_HIDDEN | stat.SF_ARCHIVED)
    finally:
        os.close(fd)
    flags = system.flags(os.lstat(f))
    assert flags & stat.UF_HIDDEN and not flags & stat.SF_ARCHIVED


def test_an_extended_acl_round_trips_as_text(system, tmp_path):
    f = tmp_path / "shared"
    f.write_text("x")
    subprocess.run(["chmod", "+a", "everyone deny delete", str(f)], check=True)
    text = system.acl(os.fsencode(f))
    assert b"deny" in text and b"delete" in text
    g = tmp_path / "copy"
    g.write_text("x")
    fd = _fd(g)
    try:
        system.set_acl(fd, text)
        assert system.acl(b"", fd) == text
    finally:
        os.close(fd)


def test_time_machine_exclusions_are_seen(system, tmp_path):
    folder = tmp_path / "excluded"
    folder.mkdir()
    assert system.excluded(os.fsencode(folder), True) is None
    subprocess.run(["tmutil", "addexclusion", str(folder)], check=True)
    from engine.platform.interface import Exclusion

    assert system.excluded(os.fsencode(folder), True) is Exclusion.TIME_MACHINE


def test_an_ordinary_file_is_not_a_placeholder(system, tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    assert not system.dataless(os.lstat(f))
    assert system.evict(os.fsencode(f)) is False  # not an iCloud item: NSFileManager refuses, the file stays
    assert f.read_text() == "x"


def test_machine_questions_answer_without_raising(system):
    import time

    assert system.full_disk_access() in (True, False, None)
    assert system.low_power_mode() in (True, False)
    system.metered_network()  # starts the path monitor
    time.sleep(1)
    assert system.metered_network() is None  # a CI runner's wired network is neither expensive nor constrained
    name = system.wifi_name()  # a hosted runner is on a cable (None); a Mac on Wi-Fi with Location: its name
    assert name is None or (isinstance(name, str) and name)
    system.throttle_disk_io()
    with system.awake("Backbeat test"):
        pass
