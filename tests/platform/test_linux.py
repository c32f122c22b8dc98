"""The Linux platform against the real system calls it makes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import psutil
import pytest

from engine.base.metadata import Metadata
from engine.platform import current
from engine.platform.interface import CACHEDIR_SIGNATURE, Exclusion

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux only (tests/platform/test_darwin.py on a Mac)")


def test_current_is_linux():
    assert current().name == "linux"


def test_creation_time_is_what_statx_gives(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    st = os.lstat(f)
    birth = current().birthtime_ns(os.fsencode(f), st)
    by_path_seconds = int(subprocess.run(["stat", "-c", "%W", str(f)], capture_output=True, text=True).stdout)
    assert birth // 1_000_000_000 == by_path_seconds > 0
    fd = os.open(f, os.O_RDONLY)
    try:
        assert current().birthtime_ns(b"", st, fd) == birth
    finally:
        os.close(fd)


def test_disk_reads_of_the_calling_thread_yield_to_everything_else():
    seen = []

    def reader() -> None:
        current().throttle_disk_io()
        seen.append(psutil.Process(threading.get_native_id()).ionice())

    t = threading.Thread(target=reader)
    t.start()
    t.join()
    assert (seen[0].ioclass, seen[0].value) == (psutil.IOPRIO_CLASS_BE, 7)


def test_a_restore_sets_only_the_users_attributes_and_posix_acls():
    system = current()
    assert system.restorable_xattr(b"user.colour")
    assert system.restorable_xattr(b"system.posix_acl_access")
    assert not system.restorable_xattr(b"trusted.overlay.opaque")
    assert not system.restorable_xattr(b"security.capability")  # a snapshot must never grant capabilities


def test_owners_are_mapped_by_name_first():
    system = current()
    assert system.owner_ids(Metadata(1234, 4321, b"nobody", b"nogroup")) == (65534, 65534)
    assert system.owner_ids(Metadata(1234, 4321, b"no-such-user-here", b"")) == (1234, 4321)


def test_a_cache_folder_needs_the_signature(tmp_path):
    system = current()
    (tmp_path / "CACHEDIR.TAG").write_bytes(CACHEDIR_SIGNATURE)
    assert system.excluded(os.fsencode(tmp_path), True) is Exclusion.CACHE_FOLDER
    assert system.excluded(os.fsencode(tmp_path / "CACHEDIR.TAG"), False) is None
    (tmp_path / "CACHEDIR.TAG").write_bytes(CACHEDIR_SIGNATURE[:-1])
    assert system.excluded(os.fsencode(tmp_path), True) is None


def test_what_linux_has_not_is_said_plainly():
    system = current()
    st = os.lstat("/")
    assert (system.flags(st), system.dataless(st), system.full_disk_access()) == (0, False, None)


def test_a_connection_is_uploading_while_it_sends_and_not_once_idle():
    import socket
    import time

    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    try:
        client.sendall(b"x" * 100_000)
        assert current().uploading(client)
        peer.recv(1 << 20)
        time.sleep(1.2)  # nothing sent for longer than a probe counts as uploading
        assert not current().uploading(client)
    finally:
        for s in (client, peer, server):
            s.close()
