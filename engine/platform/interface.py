"""The platform interface, with what every POSIX system does the same way: owners by id and name,
hard-link identity, and `CACHEDIR.TAG` folders.

The metadata questions are asked once per file a backup reads, or once per folder: never for an
unchanged file (its entry comes from the files cache). The scan asks two cheap ones of every file:
whether it is a placeholder (a flag of the stat it has already) and, on a Mac only, whether Time
Machine is told to skip it (one `getxattr`).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import socket
import stat
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path

import psutil

from engine.base.metadata import Metadata
from engine.platform.loginitem import autostart_entry, autostart_path
from engine.platform.photos import originals_in_icloud

__all__ = ["Platform", "Exclusion", "Xattrs", "CACHEDIR_SIGNATURE"]

Xattrs = tuple[tuple[bytes, bytes], ...]

#: the first bytes of a `CACHEDIR.TAG` that marks its folder as a cache (https://bford.info/cachedir/)
CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"


class Exclusion(Enum):
    """Why the system says an item is not worth backing up (counted and shown, never silent)."""

    CACHE_FOLDER = "a cache folder (it holds a CACHEDIR.TAG)"
    TIME_MACHINE = "excluded from Time Machine"


class Platform:
    """One operating system's answers. Subclasses override what their system has."""

    name = "posix"
    #: whether `excluded` must be asked of every file too (macOS: Time Machine marks files), or of folders only
    excludes_files = False
    #: the BSD flags a restore sets back (the user's own: hidden, locked; never the file system's)
    restored_flags = 0
    #: whether a restore can set a creation time (`set_birthtime`)
    sets_birthtime = False
    #: whether files may be placeholders whose content is only in the cloud (macOS: iCloud Drive)
    cloud_placeholders = False
    #: whether the menu bar draws an app's icon as a template (black and clear, tinted by the
    #: system for a light or dark menu bar, as macOS does); elsewhere the tray shows colours
    template_menu_bar_icons = False

    def __init__(self) -> None:
        self._users: dict[int, bytes] = {}
        self._groups: dict[int, bytes] = {}

    # -- reading ---------------------------------------------------------------------------------
    def metadata(self, path: bytes, st: os.stat_result, fd: int | None = None) -> Metadata:
        """What a tree keeps of the item at `path` beyond mode and mtime (`st` is its lstat, `fd`
        an open descriptor of it when there is one)."""
        linked = stat.S_ISREG(st.st_mode) and st.st_nlink > 1
        return Metadata(
            st.st_uid,
            st.st_gid,
            self.user_name(st.st_uid),
            self.group_name(st.st_gid),
            self.birthtime_ns(path, st, fd),
            self.flags(st),
            self.acl(path, fd),
            st.st_dev if linked else 0,
            st.st_ino if linked else 0,
        )

    def user_name(self, uid: int) -> bytes:
        return _named(self._users, uid, lambda: pwd.getpwuid(uid).pw_name)

    def group_name(self, gid: int) -> bytes:
        return _named(self._groups, gid, lambda: grp.getgrgid(gid).gr_name)

    def xattrs(self, path: bytes) -> Xattrs:
        """Every extended attribute of `path` (not following a link), sorted by name."""
        return ()

    def birthtime_ns(self, path: bytes, st: os.stat_result, fd: int | None = None) -> int:
        return 0

    def flags(self, st: os.stat_result) -> int:
        return 0

    def acl(self, path: bytes, fd: int | None = None) -> bytes:
        return b""

    def dataless(self, st: os.stat_result) -> bool:
        """Whether the file's content lives only in the cloud (macOS: an iCloud placeholder):
        reading it would download it."""
        return False

    def photos_in_icloud(self, library: bytes) -> tuple[int, int] | None:
        """(originals only in iCloud, originals in all) of the Photos library at `library`, read
        from its own catalogue (`engine.platform.photos`); None when that cannot tell."""
        return originals_in_icloud(library)

    def fetch(self, path: bytes) -> None:
        """Bring a cloud-only file's content onto this computer, waiting until it is here. Reading
        it does that (macOS materializes a dataless file on access, TN3150); one byte is enough."""
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            os.read(fd, 1)
        finally:
            os.close(fd)

    def evict(self, path: bytes) -> bool:
        """Give a downloaded cloud file's space back, keeping it in the cloud; False where the
        system has no cloud files or would not."""
        return False

    def excluded(self, path: bytes, is_dir: bool) -> Exclusion | None:
        """Whether the system marks `path` as not worth backing up. Here: a folder holding a
        `CACHEDIR.TAG` that starts with the signature (the convention restic, borg and Backbeat honour)."""
        tag = path + b"/CACHEDIR.TAG"
        if not is_dir or not os.access(tag, os.F_OK):  # asked of every folder: one call, no exception
            return None
        try:
            with open(tag, "rb") as f:
                head = f.read(len(CACHEDIR_SIGNATURE))
        except OSError:
            return None
        return Exclusion.CACHE_FOLDER if head == CACHEDIR_SIGNATURE else None

    # -- writing (a restore) ---------------------------------------------------------------------
    def owner_ids(self, meta: Metadata) -> tuple[int, int]:
        """The ids to give a restored item: by name where this computer knows the name (a user is
        501 on one Mac and 502 on the next), else the stored ids."""
        uid, gid = meta.uid, meta.gid
        with contextlib.suppress(KeyError):
            uid = pwd.getpwnam(os.fsdecode(meta.user)).pw_uid if meta.user else uid
        with contextlib.suppress(KeyError):
            gid = grp.getgrnam(os.fsdecode(meta.group)).gr_gid if meta.group else gid
        return uid, gid

    def restorable_xattr(self, name: bytes) -> bool:
        """Whether a restore may set this attribute: only those a user's files carry (a snapshot,
        or a hostile repository, must never set ones the system keeps for itself)."""
        return False

    def set_xattr(self, fd: int, name: bytes, value: bytes) -> None:
        raise OSError(95, "extended attributes are not supported here")

    def set_birthtime(self, fd: int, ns: int) -> bool:
        """Set the creation time; False where the system keeps none that can be set."""
        return False

    def set_flags(self, fd: int, flags: int) -> None:
        """Set the user flags among `flags` (never system ones: only root may, and a snapshot must
        not mark files the system owns)."""

    def set_acl(self, fd: int, acl: bytes) -> None:
        if acl:
            raise OSError(95, "extended ACLs are not supported here")

    # -- the machine -----------------------------------------------------------------------------
    def login_item(self, command: list[str], home: Path | None = None) -> tuple[Path, bytes]:
        """Where to write what starts `command` at login, and what to write (an XDG autostart entry)."""
        return autostart_path(home), autostart_entry(command)

    def uploading(self, sock: socket.socket) -> bool:
        """Whether this established TCP connection is sending (read from the kernel's TCP info):
        the link probe measures the path of the connections that upload."""
        return False

    def full_disk_access(self) -> bool | None:
        """Whether this process may read everything its user owns: None where the system has no
        such grant (Linux), False on a Mac that has not been given Full Disk Access."""
        return None

    def on_battery(self) -> bool:
        battery = psutil.sensors_battery()  # None on a desktop
        return battery is not None and battery.power_plugged is False

    def low_power_mode(self) -> bool:
        """Whether the user asked the computer to save energy (macOS Low Power Mode)."""
        return False

    def metered_network(self) -> str | None:
        """Why the current network is one not to upload on, in plain words ("on a metered network
        (a phone's hotspot)"), or None. Asked every few seconds while uploading."""
        return None

    def wifi_name(self) -> str | None:
        """The name (SSID) of the Wi-Fi network this computer is on, for the list of networks the
        user never uploads on; None when not on Wi-Fi, or when the system will not say."""
        return None

    def allow_wifi_name(self) -> None:
        """Ask the user to let Backbeat see the Wi-Fi's name, where the system asks (macOS: Location)."""

    #: why `wifi_name` may not know the name, and what the user can do (None: it always knows)
    WIFI_NAME_HIDDEN: str | None = None

    #: where the user grants it (the Full Disk Access pane of System Settings)
    FULL_DISK_ACCESS_SETTINGS = "x-apple.systempreferences:com.apple.preference.security?Privacy_AllFiles"

    def throttle_disk_io(self) -> None:
        """Make the calling thread's disk reads yield to everything else (a backup must not make
        the computer feel slow)."""

    @contextlib.contextmanager
    def awake(self, reason: str) -> Iterator[None]:
        """Keep the computer from idle sleep while the block runs (an upload), where the system lets a
        program ask. Never against the user's own sleep (lid, menu)."""
        yield


def _named(known: dict[int, bytes], number: int, lookup: Callable[[], str]) -> bytes:
    """A user's or group's name, asked of the system once per number (b"" for one it does not know)."""
    if number not in known:
        try:
            known[number] = os.fsencode(lookup())
        except KeyError:
            known[number] = b""
    return known[number]
