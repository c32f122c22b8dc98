"""Linux: extended attributes (POSIX ACLs among them, as `system.posix_acl_*`), creation time read
with `statx(2)` where the file system keeps it, and per-thread disk priority with `ioprio_set(2)`.

A metered network and the Wi-Fi's name are NetworkManager's word (its `Metered` property, and
the primary connection's access point's `Ssid`, read with `busctl`; none where NetworkManager or
systemd's bus tool is absent). Linux has no BSD flags, no settable
creation time, no Full Disk Access grant, no Low Power Mode and no iCloud placeholders: those
answers are the interface's defaults.
"""

from __future__ import annotations

import ctypes
import os
import platform
import socket
import struct
import subprocess
import threading

from engine.platform.interface import Platform, Xattrs

__all__ = ["LinuxPlatform"]

_libc = ctypes.CDLL(None, use_errno=True)
_statx = getattr(_libc, "statx", None)  # glibc 2.28 and later
_TCP_INFO = 11  # <netinet/tcp.h>; not in Python's socket module on every version
_ACTIVE_MS = 1000  # a connection that sent data this recently is uploading
_AT_FDCWD = -100
_AT_EMPTY_PATH = 0x1000
_AT_SYMLINK_NOFOLLOW = 0x100
_STATX_BTIME = 0x800
_STATX_SIZE = 256
_BTIME = struct.Struct("<qI")  # struct statx_timestamp at offset 80: tv_sec, tv_nsec
_BTIME_AT = 80
_MASK = struct.Struct("<I")  # stx_mask: which fields the kernel filled in
_buffers = threading.local()

#: ioprio_set(2): the calling thread (who = 0), best effort class at its lowest level (as `ionice -c2 -n7`)
_IOPRIO_SET = {"x86_64": 251, "aarch64": 30}.get(platform.machine())
_IOPRIO_WHO_PROCESS = 1
_IOPRIO_LOWEST_BEST_EFFORT = (2 << 13) | 7

_NM = "org.freedesktop.NetworkManager"
_NM_ROOT = "/org/freedesktop/NetworkManager"


def _nm(path: str, interface: str, prop: str) -> list[str]:
    """One NetworkManager property, as `busctl get-property` prints it split in words ("u 1",
    'o "/org/…"', "ay 4 72 111 109 101"); [] where NetworkManager or busctl is absent."""
    try:
        return subprocess.run(
            ["busctl", "get-property", _NM, path, interface, prop],
            capture_output=True,
            text=True,
            timeout=2,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return []


#: besides `user.*`, the POSIX ACLs: a restore may set them (they say no more than the mode bits do)
_ACL_XATTRS = {b"system.posix_acl_access", b"system.posix_acl_default"}


class LinuxPlatform(Platform):
    name = "linux"

    def xattrs(self, path: bytes) -> Xattrs:
        try:
            names = os.listxattr(path, follow_symlinks=False)
            if not names:
                return ()
            return tuple(sorted((os.fsencode(n), os.getxattr(path, n, follow_symlinks=False)) for n in names))
        except OSError:
            return ()

    def birthtime_ns(self, path: bytes, st: os.stat_result, fd: int | None = None) -> int:
        if _statx is None:
            return 0
        buf = getattr(_buffers, "statx", None)  # one per thread: asked once per file backed up
        if buf is None:
            buf = _buffers.statx = ctypes.create_string_buffer(_STATX_SIZE)
        if fd is not None:
            rc = _statx(fd, b"", _AT_EMPTY_PATH | _AT_SYMLINK_NOFOLLOW, _STATX_BTIME, buf)
        else:
            rc = _statx(_AT_FDCWD, path, _AT_SYMLINK_NOFOLLOW, _STATX_BTIME, buf)
        if rc != 0 or not _MASK.unpack_from(buf)[0] & _STATX_BTIME:
            return 0
        sec, nsec = _BTIME.unpack_from(buf, _BTIME_AT)
        return sec * 1_000_000_000 + nsec

    def restorable_xattr(self, name: bytes) -> bool:
        return name.startswith(b"user.") or name in _ACL_XATTRS

    def set_xattr(self, fd: int, name: bytes, value: bytes) -> None:
        os.setxattr(fd, name, value)

    def uploading(self, sock: socket.socket) -> bool:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 104)
        (unacked,) = struct.unpack_from("I", info, 24)
        (last_data_sent,) = struct.unpack_from("I", info, 44)
        return info[0] == 1 and (unacked > 0 or last_data_sent <= _ACTIVE_MS)  # 1: TCP_ESTABLISHED

    def metered_network(self) -> str | None:
        answer = _nm(_NM_ROOT, _NM, "Metered")  # NetworkManager's view of the whole connection
        if answer[:1] == ["u"] and answer[1:2] in (["1"], ["3"]):  # NM_METERED_YES, NM_METERED_GUESS_YES
            return "on a metered network (NetworkManager says so)"
        return None

    def wifi_name(self) -> str | None:
        """The primary connection's access point's SSID, from NetworkManager."""
        active = [p.strip('"') for p in _nm(_NM_ROOT, _NM, "PrimaryConnection")[1:2]]
        if not active or _nm(active[0], f"{_NM}.Connection.Active", "Type") != ["s", '"802-11-wireless"']:
            return None
        point = _nm(active[0], f"{_NM}.Connection.Active", "SpecificObject")[1:2]
        ssid = _nm(point[0].strip('"'), f"{_NM}.AccessPoint", "Ssid") if point else []
        if ssid[:1] != ["ay"] or len(ssid) < 3:
            return None
        return bytes(int(b) for b in ssid[2:]).decode("utf-8", "replace")

    def throttle_disk_io(self) -> None:
        if _IOPRIO_SET is not None:
            _libc.syscall(_IOPRIO_SET, _IOPRIO_WHO_PROCESS, 0, _IOPRIO_LOWEST_BEST_EFFORT)
