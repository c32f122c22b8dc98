"""macOS, through documented C entry points with `ctypes` (the sources are cited in docs/macos.md):

- extended attributes with `listxattr`/`getxattr`/`fsetxattr` and `XATTR_NOFOLLOW` (Python's
  `os.listxattr` does not exist on macOS): Finder tags, Finder info and resource forks among them;
- creation time from `lstat` (`st_birthtime`), set back with `fsetattrlist(ATTR_CMN_CRTIME)`;
- BSD flags from `st_flags`, the user-settable ones set back with `fchflags`;
- extended ACLs with `acl_get_fd_np`/`acl_get_link_np`, `acl_to_text`, `acl_from_text`, `acl_set_fd_np`;
- iCloud placeholders: `SF_DATALESS` in `st_flags` (reading one would download it); one downloaded
  on purpose is given back with `NSFileManager.evictUbiquitousItemAtURL:error:`;
- Time Machine exclusions: the sticky `com.apple.metadata:com_apple_backup_excludeItem` attribute on
  any item, and `CSBackupIsItemExcluded` for folders (it also knows the paths excluded in settings);
- disk reads at Time Machine's throttled priority (`setiopolicy_np`), idle sleep held off with an
  IOKit power assertion while uploading on AC power, and a Full Disk Access probe;
- Low Power Mode from `NSProcessInfo.isLowPowerModeEnabled` and the Wi-Fi's name from CoreWLAN's
  `CWInterface.ssid` (shown only to an app the user allowed Location: `CLLocationManager`
  asks), through the Objective-C runtime's C entry points (`objc_getClass`,
  `sel_registerName`, `objc_msgSend`);
- expensive (a phone's hotspot, cellular) and constrained (Low Data Mode) networks from
  Network.framework's path monitor, which has no C entry point without blocks: through PyObjC
  (`pyobjc-framework-Network`, a dependency on macOS only).

Verified where: this module runs only on a Mac (tests/platform/test_darwin.py, in the macOS CI
workflow); on Linux it is read, never imported.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

from engine.base.logs import log
from engine.platform.interface import Exclusion, Platform, Xattrs
from engine.platform.loginitem import agent_path, launch_agent

__all__ = ["DarwinPlatform", "SF_DATALESS", "UF_SETTABLE"]

_libc = ctypes.CDLL("/usr/lib/libSystem.B.dylib", use_errno=True)
_XATTR_NOFOLLOW = 0x0001
#: sys/stat.h
SF_DATALESS = 0x40000000
UF_SETTABLE = 0x0000FFFF
_UF_COMPRESSED = 0x00000020  # set by the file system for transparent compression, never by hand
_UF_TRACKED = 0x00000040
_UF_DATAVAULT = 0x00000080
_RESTORABLE_FLAGS = UF_SETTABLE & ~(_UF_COMPRESSED | _UF_TRACKED | _UF_DATAVAULT)
#: sys/attr.h
_ATTR_BIT_MAP_COUNT = 5
_ATTR_CMN_CRTIME = 0x00000200
#: sys/acl.h
_ACL_TYPE_EXTENDED = 0x00000100
#: sys/resource.h
_IOPOL_TYPE_DISK = 0
_IOPOL_SCOPE_THREAD = 1
_IOPOL_THROTTLE = 3

_TCP_CONNECTION_INFO = 0x106  # <netinet/tcp.h>: struct tcp_connection_info
_TM_EXCLUDE = b"com.apple.metadata:com_apple_backup_excludeItem"
#: attributes the system keeps for itself: a restore never sets them (and `com.apple.quarantine`,
#: which macOS adds to what it downloads, is not the user's either)
_SYSTEM_ONLY_XATTRS = {b"com.apple.rootless", b"com.apple.provenance", b"com.apple.quarantine"}
#: readable only with Full Disk Access, and present on every Mac since 10.14
_PROTECTED = Path.home() / "Library" / "Application Support" / "com.apple.TCC" / "TCC.db"


class _Attrlist(ctypes.Structure):
    _fields_ = [
        ("bitmapcount", ctypes.c_ushort),
        ("reserved", ctypes.c_uint16),
        ("commonattr", ctypes.c_uint32),
        ("volattr", ctypes.c_uint32),
        ("dirattr", ctypes.c_uint32),
        ("fileattr", ctypes.c_uint32),
        ("forkattr", ctypes.c_uint32),
    ]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _declare() -> None:
    c = ctypes
    for name, res, args in (
        ("listxattr", c.c_ssize_t, [c.c_char_p, c.c_void_p, c.c_size_t, c.c_int]),
        ("getxattr", c.c_ssize_t, [c.c_char_p, c.c_char_p, c.c_void_p, c.c_size_t, c.c_uint32, c.c_int]),
        ("fsetxattr", c.c_int, [c.c_int, c.c_char_p, c.c_void_p, c.c_size_t, c.c_uint32, c.c_int]),
        ("fchflags", c.c_int, [c.c_int, c.c_uint]),
        ("fsetattrlist", c.c_int, [c.c_int, c.c_void_p, c.c_void_p, c.c_size_t, c.c_uint]),
        ("acl_get_fd_np", c.c_void_p, [c.c_int, c.c_int]),
        ("acl_get_link_np", c.c_void_p, [c.c_char_p, c.c_int]),
        ("acl_to_text", c.c_void_p, [c.c_void_p, c.POINTER(c.c_ssize_t)]),
        ("acl_from_text", c.c_void_p, [c.c_char_p]),
        ("acl_set_fd_np", c.c_int, [c.c_int, c.c_void_p, c.c_int]),
        ("acl_free", c.c_int, [c.c_void_p]),
        ("setiopolicy_np", c.c_int, [c.c_int, c.c_int, c.c_int]),
    ):
        f = getattr(_libc, name)
        f.restype, f.argtypes = res, args


_declare()


def _oserror(what: str) -> OSError:
    e = ctypes.get_errno()
    return OSError(e, f"{what}: {os.strerror(e)}")


class _Frameworks:
    """CoreFoundation, CoreServices and IOKit, loaded on first use (a backup that never asks pays nothing)."""

    def __init__(self) -> None:
        c = ctypes
        cf = c.CDLL("/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation")
        cs = c.CDLL("/System/Library/Frameworks/CoreServices.framework/CoreServices")
        iokit = c.CDLL("/System/Library/Frameworks/IOKit.framework/IOKit")
        self.url = cf.CFURLCreateFromFileSystemRepresentation
        self.url.restype, self.url.argtypes = c.c_void_p, [c.c_void_p, c.c_char_p, c.c_long, c.c_bool]
        self.string = cf.CFStringCreateWithCString
        self.string.restype, self.string.argtypes = c.c_void_p, [c.c_void_p, c.c_char_p, c.c_uint32]
        self.release = cf.CFRelease
        self.release.restype, self.release.argtypes = None, [c.c_void_p]
        self.excluded = cs.CSBackupIsItemExcluded
        self.excluded.restype, self.excluded.argtypes = c.c_bool, [c.c_void_p, c.POINTER(c.c_bool)]
        self.assert_ = iokit.IOPMAssertionCreateWithName
        self.assert_.restype = c.c_int
        self.assert_.argtypes = [c.c_void_p, c.c_uint32, c.c_void_p, c.POINTER(c.c_uint32)]
        self.unassert = iokit.IOPMAssertionRelease
        self.unassert.restype, self.unassert.argtypes = c.c_int, [c.c_uint32]
        self.time_remaining = iokit.IOPSGetTimeRemainingEstimate
        self.time_remaining.restype, self.time_remaining.argtypes = c.c_double, []

    def cfstring(self, text: str) -> int:
        return self.string(None, text.encode(), 0x08000100)  # kCFStringEncodingUTF8


def _objc_send(
    framework: str, target: str | int, *messages: str | tuple, answer: type | None = ctypes.c_void_p
) -> object:
    """`[[[target m1] m2] … mN]` through the Objective-C runtime's C functions: `target` a class's
    name or an object, a message a selector or (selector, arguments…) with bytes passed as C
    strings and the rest as pointers; the last answer read as `answer`, None when one on the way is nil."""
    ctypes.CDLL(f"/System/Library/Frameworks/{framework}.framework/{framework}")  # defines the class
    objc = ctypes.CDLL("/usr/lib/libobjc.A.dylib")
    objc.objc_getClass.restype, objc.objc_getClass.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    objc.sel_registerName.restype, objc.sel_registerName.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    receiver = objc.objc_getClass(target.encode()) if isinstance(target, str) else target
    for i, message in enumerate(messages):
        if not receiver:
            return None
        selector, *args = (message,) if isinstance(message, str) else message
        kinds = [ctypes.c_char_p if isinstance(a, bytes) else ctypes.c_void_p for a in args]
        kind = answer if i == len(messages) - 1 else ctypes.c_void_p
        send = ctypes.CFUNCTYPE(kind, ctypes.c_void_p, ctypes.c_void_p, *kinds)(("objc_msgSend", objc))
        receiver = send(receiver, objc.sel_registerName(selector.encode()), *args)
    return receiver


class _PathWatch:
    """Network.framework's path monitor, on a queue of its own: `cost` follows the current path."""

    def __init__(self) -> None:
        self.cost: str | None = None
        try:
            import dispatch  # pyobjc-framework-libdispatch
            import Network  # pyobjc-framework-Network
        except ImportError:
            log.warning("PyObjC's Network framework is missing: metered networks are not noticed")
            return
        self._network = Network
        self._queue = dispatch.dispatch_queue_create(b"app.backbeat.network-path", None)
        self._monitor = Network.nw_path_monitor_create()
        Network.nw_path_monitor_set_update_handler(self._monitor, self._update)
        Network.nw_path_monitor_set_queue(self._monitor, self._queue)
        Network.nw_path_monitor_start(self._monitor)

    def _update(self, path: object) -> None:
        if self._network.nw_path_is_constrained(path):
            self.cost = "on a network in Low Data Mode"
        elif self._network.nw_path_is_expensive(path):
            self.cost = "on a metered network (a phone's hotspot or a cellular link)"
        else:
            self.cost = None


_KIOPS_TIME_REMAINING_UNLIMITED = -2.0  # IOPSGetTimeRemainingEstimate on AC power
_KIOPM_ASSERTION_LEVEL_ON = 255


class DarwinPlatform(Platform):
    name = "darwin"
    excludes_files = True
    restored_flags = _RESTORABLE_FLAGS
    sets_birthtime = True
    cloud_placeholders = True
    template_menu_bar_icons = True  # Apple HIG, "The menu bar": menu bar extras use template images

    def __init__(self) -> None:
        super().__init__()
        self._fw: _Frameworks | None = None
        self._paths: _PathWatch | None = None
        self._location: object = None  # a CLLocationManager, once Location was asked for

    @property
    def frameworks(self) -> _Frameworks:
        if self._fw is None:
            self._fw = _Frameworks()
        return self._fw

    # -- reading ---------------------------------------------------------------------------------
    def xattrs(self, path: bytes) -> Xattrs:
        size = _libc.listxattr(path, None, 0, _XATTR_NOFOLLOW)
        if size <= 0:
            return ()
        names = ctypes.create_string_buffer(size)
        size = _libc.listxattr(path, names, size, _XATTR_NOFOLLOW)
        if size <= 0:
            return ()
        out = []
        for name in names.raw[:size].split(b"\0")[:-1]:
            value = self._getxattr(path, name)
            if value is not None:
                out.append((name, value))
        return tuple(sorted(out))

    @staticmethod
    def _getxattr(path: bytes, name: bytes) -> bytes | None:
        size = _libc.getxattr(path, name, None, 0, 0, _XATTR_NOFOLLOW)
        if size < 0:
            return None
        buf = ctypes.create_string_buffer(max(size, 1))
        size = _libc.getxattr(path, name, buf, size, 0, _XATTR_NOFOLLOW)
        return None if size < 0 else buf.raw[:size]

    def birthtime_ns(self, path: bytes, st: os.stat_result, fd: int | None = None) -> int:
        birth = getattr(st, "st_birthtime_ns", None)  # Python 3.12 and later
        if birth is None:
            birth = round(st.st_birthtime * 1_000_000_000)
        return birth

    def flags(self, st: os.stat_result) -> int:
        return st.st_flags

    def acl(self, path: bytes, fd: int | None = None) -> bytes:
        if fd is not None:
            acl = _libc.acl_get_fd_np(fd, _ACL_TYPE_EXTENDED)
        else:
            acl = _libc.acl_get_link_np(path, _ACL_TYPE_EXTENDED)
        if not acl:
            return b""  # ENOENT: none
        try:
            length = ctypes.c_ssize_t()
            text = _libc.acl_to_text(acl, ctypes.byref(length))
            if not text:
                return b""
            try:
                return ctypes.string_at(text, length.value)
            finally:
                _libc.acl_free(text)
        finally:
            _libc.acl_free(acl)

    def dataless(self, st: os.stat_result) -> bool:
        return bool(st.st_flags & SF_DATALESS)

    def excluded(self, path: bytes, is_dir: bool) -> Exclusion | None:
        if _libc.getxattr(path, _TM_EXCLUDE, None, 0, 0, _XATTR_NOFOLLOW) >= 0:
            return Exclusion.TIME_MACHINE
        if not is_dir:
            return None
        fw = self.frameworks
        url = fw.url(None, path, len(path), True)
        if url:
            try:
                by_path = ctypes.c_bool()
                if fw.excluded(url, ctypes.byref(by_path)):
                    return Exclusion.TIME_MACHINE
            finally:
                fw.release(url)
        return super().excluded(path, is_dir)

    # -- writing (a restore) ---------------------------------------------------------------------
    def restorable_xattr(self, name: bytes) -> bool:
        return name not in _SYSTEM_ONLY_XATTRS

    def set_xattr(self, fd: int, name: bytes, value: bytes) -> None:
        if _libc.fsetxattr(fd, name, value, len(value), 0, 0) != 0:
            raise _oserror("fsetxattr")

    def set_birthtime(self, fd: int, ns: int) -> bool:
        attrs = _Attrlist(bitmapcount=_ATTR_BIT_MAP_COUNT, commonattr=_ATTR_CMN_CRTIME)
        when = _Timespec(ns // 1_000_000_000, ns % 1_000_000_000)
        if _libc.fsetattrlist(fd, ctypes.byref(attrs), ctypes.byref(when), ctypes.sizeof(when), 0) != 0:
            raise _oserror("fsetattrlist")
        return True

    def set_flags(self, fd: int, flags: int) -> None:
        if flags & self.restored_flags and _libc.fchflags(fd, flags & self.restored_flags) != 0:
            raise _oserror("fchflags")

    def set_acl(self, fd: int, acl: bytes) -> None:
        if not acl:
            return
        parsed = _libc.acl_from_text(acl)
        if not parsed:
            raise _oserror("acl_from_text")
        try:
            if _libc.acl_set_fd_np(fd, parsed, _ACL_TYPE_EXTENDED) != 0:
                raise _oserror("acl_set_fd_np")
        finally:
            _libc.acl_free(parsed)

    # -- the machine -----------------------------------------------------------------------------
    def login_item(self, command: list[str], home: Path | None = None) -> tuple[Path, bytes]:
        return agent_path(home or Path.home()), launch_agent(command)

    def uploading(self, sock: socket.socket) -> bool:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_CONNECTION_INFO, 52)
        (in_send_buffer,) = struct.unpack_from("I", info, 36)  # tcpi_snd_sbbytes, including data in flight
        return info[0] == 4 and in_send_buffer > 0  # 4: TCPS_ESTABLISHED

    def low_power_mode(self) -> bool:
        try:
            return bool(
                _objc_send("Foundation", "NSProcessInfo", "processInfo", "isLowPowerModeEnabled", answer=ctypes.c_bool)
            )
        except (OSError, AttributeError):
            return False

    def metered_network(self) -> str | None:
        if self._paths is None:
            self._paths = _PathWatch()
        return self._paths.cost

    def evict(self, path: bytes) -> bool:
        """`[[NSFileManager defaultManager] evictUbiquitousItemAtURL:error:]`: the local copy of an
        iCloud file is removed, the file stays in iCloud (a placeholder again)."""
        try:
            text = _objc_send("Foundation", "NSString", ("stringWithUTF8String:", path))
            url = _objc_send("Foundation", "NSURL", ("fileURLWithPath:", text))
            evicted = _objc_send(
                "Foundation",
                "NSFileManager",
                "defaultManager",
                ("evictUbiquitousItemAtURL:error:", url, None),
                answer=ctypes.c_bool,
            )
        except (OSError, AttributeError):
            return False
        return bool(url) and bool(evicted)

    def wifi_name(self) -> str | None:
        """`[[[CWWiFiClient sharedWiFiClient] interface] ssid]` (CoreWLAN): nil off Wi-Fi, and since
        macOS 14 also when the user has not allowed Backbeat Location Services."""
        try:
            name = _objc_send(
                "CoreWLAN",
                "CWWiFiClient",
                "sharedWiFiClient",
                "interface",
                "ssid",
                "UTF8String",
                answer=ctypes.c_char_p,
            )
        except (OSError, AttributeError):
            return None
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else None

    def allow_wifi_name(self) -> None:
        """`[[CLLocationManager alloc] init]`, then `requestWhenInUseAuthorization` (macOS 10.15; the
        kind Apple asks apps to prefer, and whose prompt needs only `NSLocationUsageDescription` on
        macOS). The system asks the user once, and lists Backbeat under Location Services. The
        manager is kept: the prompt lives as long as it does."""
        if self._location is None:
            with contextlib.suppress(OSError, AttributeError):
                self._location = _objc_send("CoreLocation", "CLLocationManager", "alloc", "init")
                _objc_send("CoreLocation", self._location, "requestWhenInUseAuthorization", answer=None)

    WIFI_NAME_HIDDEN = (
        "macOS tells an app the Wi-Fi's name only when Location Services are on for it: "
        "System Settings › Privacy & Security › Location Services › Backbeat"
    )

    def full_disk_access(self) -> bool | None:
        try:
            with open(_PROTECTED, "rb"):
                return True
        except PermissionError:
            return False
        except OSError:
            return None

    def throttle_disk_io(self) -> None:
        _libc.setiopolicy_np(_IOPOL_TYPE_DISK, _IOPOL_SCOPE_THREAD, _IOPOL_THROTTLE)

    @contextlib.contextmanager
    def awake(self, reason: str) -> Iterator[None]:
        fw = self.frameworks
        if fw.time_remaining() != _KIOPS_TIME_REMAINING_UNLIMITED:  # on battery: let it sleep
            yield
            return
        kind, name = fw.cfstring("PreventUserIdleSystemSleep"), fw.cfstring(reason)
        assertion = ctypes.c_uint32()
        try:
            held = fw.assert_(kind, _KIOPM_ASSERTION_LEVEL_ON, name, ctypes.byref(assertion)) == 0
        finally:
            fw.release(kind)
            fw.release(name)
        try:
            yield
        finally:
            if held:
                fw.unassert(assertion.value)
