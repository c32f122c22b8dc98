"""The restore's target on disk: where restored files land, and how, safely.

Everything below the target is reached through folder descriptors, one name at a time, never
following a link (`Folders`). Files are written in a staging folder of this process's own (0700,
checked by owner once opened, locked while the restore runs: `Staging`) and get their names only
whole, with their metadata (`set_meta`, then `set_flags` once named: a locked file cannot be
renamed). Whoever owns the target can swap a folder or the staging folder for a link while the
restore runs, and redirect no write, mode or name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from collections import OrderedDict

from engine.base.metadata import Metadata
from engine.platform import current as platform
from engine.repo.tree import TreeEntry

__all__ = [
    "OWNERS_BY_NAME",
    "OWNERS_BY_ID",
    "Owners",
    "PART",
    "Folders",
    "Staging",
    "set_meta",
    "set_flags",
    "already_there",
    "put_in_place",
    "why_not_written",
    "write_at",
]

#: set-user-ID and set-group-ID: kept only when the owner is restored too, so a snapshot cannot
#: hand the restorer's rights (root's, for a restore as root) to whatever it holds
_SETID = stat.S_ISUID | stat.S_ISGID
#: how owners are restored (only by root): by name where this computer knows it (a user is 501 on
#: one Mac and 502 on the next), or by the numbers stored
OWNERS_BY_NAME, OWNERS_BY_ID = "name", "id"


class Owners:
    """The ids a restore as root gives its items, `how` it was asked (OWNERS_BY_NAME or
    OWNERS_BY_ID). Each stored owner is looked up by name once per restore: a home has a handful
    of owners and hundreds of thousands of files, and each lookup reads the user database."""

    def __init__(self, how: str) -> None:
        self.how = how
        self._ids: dict[tuple[bytes, bytes, int, int], tuple[int, int]] = {}

    def of(self, meta: Metadata) -> tuple[int, int]:
        if self.how == OWNERS_BY_ID:
            return meta.uid, meta.gid
        key = (meta.user, meta.group, meta.uid, meta.gid)
        ids = self._ids.get(key)
        if ids is None:
            ids = self._ids[key] = platform().owner_ids(meta)
        return ids


def set_meta(fd: int, entry: TreeEntry, owners: Owners | None) -> list[str]:
    """Extended attributes, owner (`owners`: how, for a restore as root; None: not at all), mode,
    ACL, times and creation time of an open file or folder, in an order that lets each be set;
    flags come after (`set_flags`), once it has its name: a locked file cannot be renamed.
    Returns what could not be set, in words."""
    system, meta, missed, owned = platform(), entry.meta, [], False
    for name, value in entry.xattrs:
        if system.restorable_xattr(name):
            with contextlib.suppress(OSError):  # the target file system may not support it; contents matter most
                system.set_xattr(fd, name, value)
    if meta is not None and owners is not None:
        try:
            os.fchown(fd, *owners.of(meta))
            owned = True
        except OSError as e:
            missed.append(f"its owner ({e.strerror})")
    os.fchmod(fd, entry.mode if owned else entry.mode & ~_SETID)  # after chown, which clears the bits
    if meta is not None and meta.acl:
        try:
            system.set_acl(fd, meta.acl)
        except OSError as e:
            missed.append(f"its access list ({e.strerror})")
    os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
    if meta is not None and meta.birth_ns:
        try:
            system.set_birthtime(fd, meta.birth_ns)
        except OSError as e:
            missed.append(f"its creation date ({e.strerror})")
    return missed


def set_flags(fd: int, entry: TreeEntry) -> list[str]:
    """BSD flags (hidden, locked), the last change an item takes."""
    if entry.meta is None or not entry.meta.flags:
        return []
    try:
        platform().set_flags(fd, entry.meta.flags)
    except OSError as e:
        return [f"its flags ({e.strerror})"]
    return []


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
PART = os.O_NOFOLLOW | os.O_CLOEXEC
#: open folders a `Folders` keeps (a restore meets them in tree order: the path to the current one)
_KEEP_OPEN = 64


class Folders:
    """Folders below the restore target, opened from the target's descriptor one name at a time
    with O_NOFOLLOW: a folder swapped for a link fails to open (ELOOP, ENOTDIR) instead of leading
    elsewhere. Keeps the last few open; one per thread."""

    def __init__(self, root: int) -> None:
        self.root = root
        self._open: OrderedDict[bytes, int] = OrderedDict()

    def fd(self, rel: bytes) -> int:
        """The folder `rel` (relative to the target, b"" for the target itself): from the deepest
        folder on its way that is open, one name at a time (a loop: any depth)."""
        if not rel:
            return self.root
        fd = self._open.get(rel)
        if fd is not None:
            self._open.move_to_end(rel)
            return fd
        start, fd = 0, self.root
        cut = len(rel)
        while (cut := rel.rfind(b"/", 0, cut)) > 0:
            if (held := self._open.get(rel[:cut])) is not None:
                start, fd = cut + 1, held
                break
        while start <= len(rel):
            end = rel.find(b"/", start)
            end = len(rel) if end < 0 else end
            fd = os.open(rel[start:end], _DIR, dir_fd=fd)
            self._open[rel[:end]] = fd
            if len(self._open) > _KEEP_OPEN:
                os.close(self._open.popitem(last=False)[1])
            start = end + 1
        return fd

    def at(self, rel: bytes) -> tuple[int, bytes]:
        """(the descriptor of `rel`'s folder, its name in it)."""
        parent, _, name = rel.rpartition(b"/")
        return self.fd(parent), name

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


_STAGING = ".backbeat-restoring-"
_STAGING_B = os.fsencode(_STAGING)
#: the staging folder's subfolders: the pack workers create files at once, and in one folder they
#: wait on each other (200,000 files of 405 folders, written in one: 116 s, against 17 s in place)
_SHARDS = 256


def _clear(parent: int, name: bytes, fd: int) -> None:
    """Remove a staging folder (open as `fd`), its subfolders and the numbered parts in them;
    anything else keeps it (not ours)."""
    try:
        for shard in os.listdir(fd):
            if shard.isdigit() and stat.S_ISDIR(os.stat(shard, dir_fd=fd, follow_symlinks=False).st_mode):
                shard_fd = os.open(shard, _DIR, dir_fd=fd)
                try:
                    for part in os.listdir(shard_fd):
                        if part.isdigit():
                            os.unlink(part, dir_fd=shard_fd)
                finally:
                    os.close(shard_fd)
                os.rmdir(shard, dir_fd=fd)
        os.rmdir(name, dir_fd=parent)
    except OSError:
        pass


def _hold(parent: int, name: bytes) -> int | None:
    """An exclusive lock on a staging folder (its fd), or None when another restore holds it. The
    lock goes with the process, so a restore cut off holds none."""
    fd = os.open(name, _DIR, dir_fd=parent)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        os.close(fd)
        return None


class Staging:
    """Where a restore writes its files until they are whole: a fresh folder in the top-most folder
    on the way from the target to the first file to write that lets one be made (the target
    itself, unless it is one a user may not write in: a restore in place of a home folder backed
    up from /Users). Held open and locked while the restore runs, and used only through its
    descriptor: renamed or swapped for a link, it is still the folder this process made. The
    staging folders a restore cut off left there are removed, those another restore is using are not."""

    def __init__(self, folders: Folders, first: bytes) -> None:
        below = first.split(b"/")[:-1]
        folder = b""
        while True:
            self._parent = folders.fd(folder)
            self._name = _STAGING_B + secrets.token_hex(6).encode()
            try:
                os.mkdir(self._name, 0o700, dir_fd=self._parent)
                break
            except PermissionError:
                if not below:
                    raise
                folder = os.path.join(folder, below.pop(0))
        self._parent = os.dup(self._parent)  # `folders` may close its own
        self.fd = _hold(self._parent, self._name)
        st = os.fstat(self.fd)
        if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) != 0o700:
            raise PermissionError(errno.EPERM, "the restore's staging folder was replaced while it was made")
        for left in map(os.fsencode, os.listdir(self._parent)):
            if not left.startswith(_STAGING_B) or left == self._name:
                continue
            try:
                fd = _hold(self._parent, left)
            except OSError:  # gone meanwhile, a link, or not ours to open
                continue
            if fd is not None:
                _clear(self._parent, left, fd)
                os.close(fd)
        for shard in range(_SHARDS):
            os.mkdir(b"%d" % shard, 0o700, dir_fd=self.fd)

    @staticmethod
    def part(file: int) -> bytes:
        """Where file number `file` is written until it is whole (relative to `fd`)."""
        return b"%d/%d" % (file % _SHARDS, file)

    def open(self, file: int) -> int:
        """File number `file`'s part, open for writing (made, 0600, when it is not there yet)."""
        return os.open(self.part(file), os.O_WRONLY | os.O_CREAT | PART, 0o600, dir_fd=self.fd)

    def close(self) -> None:
        _clear(self._parent, self._name, self.fd)
        os.close(self.fd)
        os.close(self._parent)


def already_there(folder: int, name: bytes, entry: TreeEntry) -> bool:
    """The file a restore cut off had finished (or the user's own, identical by size and time)."""
    st = os.stat(name, dir_fd=folder, follow_symlinks=False)
    return stat.S_ISREG(st.st_mode) and st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns


def put_in_place(staging: int, part: bytes, folder: int, name: bytes, entry: TreeEntry, owners: Owners | None) -> None:
    try:
        os.rename(part, name, src_dir_fd=staging, dst_dir_fd=folder)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        _move_across(staging, part, folder, name, entry, owners)  # on another file system mounted inside the target


def _move_across(staging: int, part: bytes, folder: int, name: bytes, entry: TreeEntry, owners: Owners | None) -> None:
    """A rename across file systems: the part copied under its name (its metadata set again), then dropped."""
    src = os.open(part, os.O_RDONLY | PART, dir_fd=staging)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=folder)
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | PART, 0o600, dir_fd=folder)
        try:
            while chunk := os.read(src, 1 << 20):
                os.write(dst, chunk)
            set_meta(dst, entry, owners)  # what it misses was said when the part got it
            set_flags(dst, entry)
        finally:
            os.close(dst)
    finally:
        os.close(src)
    os.unlink(part, dir_fd=staging)


def why_not_written(e: OSError) -> str:
    if e.errno in (errno.ELOOP, errno.ENOTDIR):
        return "its folder was replaced (by a link or a file) during the restore: nothing was written through it"
    return f"could not be written: {e.strerror}"


def write_at(fd: int, data: bytes, offset: int) -> None:
    """Write one blob where it goes; a blob of zeros is left as a hole (sparse files stay sparse,
    a disk image restores without writing its empty gigabytes: the file takes its length once whole)."""
    if data and not data[0] and not data[-1] and data.count(0) == len(data):
        return
    os.pwrite(fd, data, offset)
