"""Restore: snapshot (and selected paths) -> files, folders and links on disk, exactly.

The plan walks the snapshot's trees, creates folders and links, and records every content
blob's places in the files that need it, on disk (`engine.local.restoreplan`: a million files must not
cost a gigabyte); it hands them back pack by pack, so each pack is read about once, on a pool of
threads, and each blob is verified (authenticated, id rechecked) before it is written. A blob
that fails makes *its files* fail: they are dropped and reported, never left looking restored;
the rest goes on. Metadata (mode, mtime in ns, extended attributes) is set last, folders deepest
first, so read-only folders restore too.

Files are written in a staging folder inside the target and get their names only whole, with
their metadata: a restore cut off (kill -9, a full disk) leaves no file that looks restored and is
not, and the same restore run again skips the files already restored (same size and mtime) and
writes the rest. Existing files are never overwritten unless asked, and then only once their new
content is whole: a file whose data turns out damaged leaves the old one as it was.

Everything below the target is reached through folder descriptors, one name at a time, never
following a link (`_Folders`), and the staging folder is this process's own (0700, checked by
owner once opened): whoever owns the target (a user whose home root restores) can swap a folder
or the staging folder for a link while the restore runs, and redirect no write, mode or name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
import threading
from array import array
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from itertools import islice

from engine.backends.base import Backend
from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.errors import BadRestoreTarget, IntegrityError, PathNotInSnapshot, Stopped
from engine.base.events import EventSink, FileSkipped, RestoreSummary
from engine.base.progress import Meter
from engine.jobs.needs import Needs, require
from engine.jobs.session import Session, forget_unlisted_packs
from engine.local.restoreplan import Place, RestorePlan
from engine.platform import current as platform
from engine.repo.blobstore import BlobStore
from engine.repo.snapshot import Snapshot
from engine.repo.tree import Kind, TreeEntry
from engine.repo.walk import folder_entries

__all__ = ["NEEDS", "check_request", "entries_under", "not_in", "run_restore", "walk_snapshot", "normalize_include"]

#: beside backups, never beside a prune (the packs it reads could go)
NEEDS = Needs("restore", lock="shared", recorded=True, stoppable=True)


def normalize_include(snap: Snapshot, path: str) -> bytes:
    """An --include path, absolute (as it was on disk) or relative to the snapshot's folder."""
    raw = os.fsencode(path).rstrip(b"/")
    base = snap.base_bytes.rstrip(b"/")
    if raw.startswith(b"/"):
        if raw == base:
            return b""
        if not raw.startswith(base + b"/"):
            return raw  # will match nothing; reported by the caller
        raw = raw[len(base) + 1 :]
    return os.path.normpath(raw) if raw else b""


def entries_under(store: BlobStore, snap: Snapshot, path: str | None) -> Iterator[tuple[bytes, TreeEntry]]:
    """Entries at or under `path` (everything when None), without the folders leading to it."""
    inc = normalize_include(snap, path) if path else b""
    for rel, entry in walk_snapshot(store, snap.tree_id, [inc] if inc else []):
        if not inc or rel == inc or rel.startswith(inc + b"/"):
            yield rel, entry


def check_request(session: Session, snap: Snapshot, target: str, includes: list[str]) -> None:
    """Refuse, before anything starts, a target that is a file or an --include the snapshot lacks."""
    if os.path.lexists(target) and not os.path.isdir(target):
        raise BadRestoreTarget(
            f"{target} is a file, not a folder",
            hint="Give --target a folder (it is created when missing), or move that file out of the way.",
        )
    for inc in includes:
        if not any(True for _ in entries_under(session.reader, snap, inc)):
            raise not_in(snap, inc)


def not_in(snap: Snapshot, path: str) -> PathNotInSnapshot:
    return PathNotInSnapshot(
        f"{path} is not in snapshot {snap.short_id}", hint=f"List what it holds with `backbeat ls {snap.short_id}`."
    )


def _wanted(rel: bytes, includes: list[bytes]) -> str:
    """'all' if `rel` is selected, 'path' if it leads to a selection, '' otherwise."""
    if not includes or any(i == b"" or rel == i or rel.startswith(i + b"/") for i in includes):
        return "all"
    if any(i.startswith(rel + b"/") for i in includes):
        return "path"
    return ""


def walk_snapshot(
    store: BlobStore,
    tree_id: bytes,
    includes: list[bytes] = (),
    rel: bytes = b"",
    unreadable: Callable[[bytes, IntegrityError], None] | None = None,
):
    """Yield (relative path, entry) for every selected entry, parents before children. A folder
    whose listing (or a part of it) fails verification raises, or, given `unreadable`, is reported
    there and what it lists skipped. Depth first with a stack, not recursion: any depth is walked."""

    def listing(tree: bytes, path: bytes) -> Iterator[TreeEntry]:
        failed = (lambda e: unreadable(path, e)) if unreadable is not None else None
        return folder_entries(store, tree, failed=failed, catch=IntegrityError)

    stack = [(rel, list(includes), listing(tree_id, rel))]
    while stack:
        rel, wanted, entries = stack[-1]
        for entry in entries:
            path = os.path.join(rel, entry.name) if rel else entry.name
            how = _wanted(path, wanted)
            if not how:
                continue
            yield path, entry
            if entry.kind == Kind.DIR:
                stack.append((path, [] if how == "all" else wanted, listing(entry.subtree, path)))
                break
        else:
            stack.pop()


#: set-user-ID and set-group-ID: kept only when the owner is restored too, so a snapshot cannot
#: hand the restorer's rights (root's, for a restore as root) to whatever it holds
_SETID = stat.S_ISUID | stat.S_ISGID
#: how owners are restored (only by root): by name where this computer knows it (a user is 501 on
#: one Mac and 502 on the next), or by the numbers stored
OWNERS_BY_NAME, OWNERS_BY_ID = "name", "id"


def _set_meta(fd: int, entry: TreeEntry, owners: str | None) -> list[str]:
    """Extended attributes, owner (`owners`: how, for a restore as root; None: not at all), mode,
    ACL, times and creation time of an open file or folder, in an order that lets each be set;
    flags come after (`_set_flags`), once it has its name: a locked file cannot be renamed.
    Returns what could not be set, in words."""
    system, meta, missed, owned = platform(), entry.meta, [], False
    for name, value in entry.xattrs:
        if system.restorable_xattr(name):
            with contextlib.suppress(OSError):  # the target file system may not support it; contents matter most
                system.set_xattr(fd, name, value)
    if meta is not None and owners is not None:
        try:
            os.fchown(fd, *((meta.uid, meta.gid) if owners == OWNERS_BY_ID else system.owner_ids(meta)))
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


def _set_flags(fd: int, entry: TreeEntry) -> list[str]:
    """BSD flags (hidden, locked), the last change an item takes."""
    if entry.meta is None or not entry.meta.flags:
        return []
    try:
        platform().set_flags(fd, entry.meta.flags)
    except OSError as e:
        return [f"its flags ({e.strerror})"]
    return []


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PART = os.O_NOFOLLOW | os.O_CLOEXEC
#: open folders a `_Folders` keeps (a restore meets them in tree order: the path to the current one)
_KEEP_OPEN = 64


class _Folders:
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
_NAME_BATCH = 1000  # files named per task at the end


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


class _Staging:
    """Where a restore writes its files until they are whole: a fresh folder in the top-most folder
    on the way from the target to the first file to write that lets one be made (the target
    itself, unless it is one a user may not write in: a restore in place of a home folder backed
    up from /Users). Held open and locked while the restore runs, and used only through its
    descriptor: renamed or swapped for a link, it is still the folder this process made. The
    staging folders a restore cut off left there are removed, those another restore is using are not."""

    def __init__(self, folders: _Folders, first: bytes) -> None:
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

    def close(self) -> None:
        _clear(self._parent, self._name, self.fd)
        os.close(self.fd)
        os.close(self._parent)


def _already_there(folder: int, name: bytes, entry: TreeEntry) -> bool:
    """The file a restore cut off had finished (or the user's own, identical by size and time)."""
    st = os.stat(name, dir_fd=folder, follow_symlinks=False)
    return stat.S_ISREG(st.st_mode) and st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns


def _put_in_place(staging: int, part: bytes, folder: int, name: bytes, entry: TreeEntry, owners: str | None) -> None:
    try:
        os.rename(part, name, src_dir_fd=staging, dst_dir_fd=folder)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        _move_across(staging, part, folder, name, entry, owners)  # on another file system mounted inside the target


def _move_across(staging: int, part: bytes, folder: int, name: bytes, entry: TreeEntry, owners: str | None) -> None:
    """A rename across file systems: the part copied under its name (its metadata set again), then dropped."""
    src = os.open(part, os.O_RDONLY | _PART, dir_fd=staging)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=folder)
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _PART, 0o600, dir_fd=folder)
        try:
            while chunk := os.read(src, 1 << 20):
                os.write(dst, chunk)
            _set_meta(dst, entry, owners)  # what it misses was said when the part got it
            _set_flags(dst, entry)
        finally:
            os.close(dst)
    finally:
        os.close(src)
    os.unlink(part, dir_fd=staging)


def _why_not_written(e: OSError) -> str:
    if e.errno in (errno.ELOOP, errno.ENOTDIR):
        return "its folder was replaced (by a link or a file) during the restore: nothing was written through it"
    return f"could not be written: {e.strerror}"


def _write_at(staging: int, part: bytes, data: bytes, offset: int) -> None:
    """Write one blob where it goes; a blob of zeros is left as a hole (sparse files stay sparse,
    a disk image restores without writing its empty gigabytes)."""
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | _PART, 0o600, dir_fd=staging)
    try:
        if data and not data[0] and not data[-1] and data.count(0) == len(data):
            return
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


def _on_pool(jobs: Iterator[Callable[[], None]], workers: int, done: Callable[[], None] = lambda: None) -> None:
    """Run `jobs` on a pool of `workers`, taking the next from the iterator (on this thread) only
    as they are needed: at most 2 x workers in flight. `done` after each; the first error raises."""
    with ThreadPoolExecutor(workers, thread_name_prefix="backbeat-restore") as pool:
        futures: deque[Future] = deque()
        for job in jobs:
            futures.append(pool.submit(job))
            while len(futures) >= 2 * workers or (futures and futures[0].done()):
                futures.popleft().result()
                done()
        while futures:
            futures.popleft().result()
            done()


class _Restorer:
    def __init__(
        self,
        session: Session,
        target: bytes,
        overwrite: bool,
        events: EventSink,
        clock: Clock,
        mirrors: tuple,
        owners: str = OWNERS_BY_NAME,
    ) -> None:
        self.session = session
        # the session's reader keeps decoded trees for later jobs; one with mirrors is for this restore only
        self.store = (
            BlobStore(session.repo.key, session.index, session.repo.backend, mirrors=mirrors)
            if mirrors
            else session.reader
        )
        self.target = target
        self.root = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.folders = _Folders(self.root)  # for the plan, on this thread
        self.overwrite = overwrite
        self.events = events
        self.clock = clock
        #: file number -> (its path, why it failed)
        self.failed: dict[int, tuple[bytes, str]] = {}
        self.skipped: list[FileSkipped] = []
        self.meter = Meter(clock, 0, 0)
        #: per number in the plan: the blobs still to write (guarded by the lock)
        self.remaining = array("I")
        self.empty = 0
        self.already_there = 0
        #: what was not restored because something different of that name is there, kept as it is
        self.kept: list[FileSkipped] = []
        self.staging: _Staging | None = None  # made when the plan meets the first file to write
        self._lock = threading.Lock()
        #: owners are set back only by a restore as root (anyone else may only give files away)
        self.owners = owners if os.geteuid() == 0 else None
        #: items another user owned, restored as the restorer's (said once, not per file)
        self.given_to_me = 0
        #: items restored whole whose metadata was not all set: said, not counted as failures
        self.notes: list[FileSkipped] = []
        #: a hard-linked file's identity -> the number of its first name in the plan
        self.linked: dict[tuple[int, int], int] = {}

    def rel(self, path: bytes) -> bytes:
        """`path` (in the target) relative to the target."""
        return path[len(self.target) :].lstrip(b"/")

    def close(self) -> None:
        if self.staging is not None:
            self.staging.close()
        self.folders.close()
        os.close(self.root)

    def fail(self, file: int, path: bytes, reason: str) -> None:
        with self._lock:
            self.failed.setdefault(file, (path, reason))

    def plan(self, snap: Snapshot, includes: list[bytes], plan: RestorePlan) -> None:
        index = self.session.index
        refused: list[bytes] = []  # folders of the target that are symbolic links: never followed

        def unreadable(rel: bytes, e: IntegrityError) -> None:
            where = os.fsdecode(os.path.join(self.target, rel, b""))  # a trailing slash: all under it
            reason = f"not restored: the folder's listing (or part of it) is damaged ({e})"
            self.skipped.append(FileSkipped(where, reason))

        for rel, entry in walk_snapshot(self.store, snap.tree_id, includes, unreadable=unreadable):
            self.session.stop.check()
            if refused and any(rel.startswith(r + b"/") for r in refused):
                continue
            dest = os.path.join(self.target, rel)
            try:
                if not self._plan_entry(plan, index, dest, rel, entry):
                    refused.append(rel)
            except OSError as e:  # a name too long for this disk, no space, no permission: this entry only
                self.skipped.append(FileSkipped(os.fsdecode(dest), f"could not be created: {e.strerror}"))
                if entry.kind == Kind.DIR:
                    refused.append(rel)

    def _plan_entry(self, plan: RestorePlan, index, dest: bytes, rel: bytes, entry: TreeEntry) -> bool:
        """Create a folder or link, or schedule a file; False for a folder that must not be entered."""
        folder, name = self.folders.at(rel)
        try:
            there: os.stat_result | None = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            there = None
        is_link = there is not None and stat.S_ISLNK(there.st_mode)
        if entry.kind == Kind.DIR:
            if is_link:
                reason = "is a symbolic link in the restore target: not followed, so this folder was not restored"
                self.skipped.append(FileSkipped(os.fsdecode(dest), reason))
                return False
            if there is None:
                os.mkdir(name, 0o700, dir_fd=folder)
            elif not stat.S_ISDIR(there.st_mode):
                raise FileExistsError(errno.EEXIST, "a file of that name is there")
            self._add(plan, dest, entry, 0)
            return True
        same_link = is_link and entry.kind == Kind.SYMLINK and os.readlink(name, dir_fd=folder) == entry.target
        if there is not None and not self.overwrite and not same_link:
            if entry.kind == Kind.FILE and _already_there(folder, name, entry):
                self.already_there += 1
                return True
            self.kept.append(FileSkipped(os.fsdecode(dest), "already exists, different; it was kept"))
        elif entry.kind == Kind.SYMLINK:
            if there is not None:
                os.unlink(name, dir_fd=folder)
            os.symlink(entry.target, name, dir_fd=folder)
            self._add(plan, dest, entry, 0)
        else:
            self._plan_file(plan, index, rel, dest, entry)
        return True

    def _add(self, plan: RestorePlan, dest: bytes, entry: TreeEntry, blobs: int, link_to: int | None = None) -> int:
        no = plan.add(dest, entry, link_to)
        self.remaining.append(blobs)
        if entry.meta is not None and self.owners is None and entry.meta.uid != os.geteuid():
            self.given_to_me += 1
        return no

    def note(self, path: bytes, missed: list[str]) -> None:
        if missed:
            said = f"restored, but {' and '.join(missed)} could not be set"
            with self._lock:
                self.notes.append(FileSkipped(os.fsdecode(path), said, warning=False))

    def _plan_file(self, plan: RestorePlan, index, rel: bytes, dest: bytes, entry: TreeEntry) -> None:
        """Files are created (in the staging folder) by the pack workers as their first blob
        arrives: creation is the costly part of a restore, so it runs in parallel. Only empty ones
        are created here."""
        if self.staging is None:
            self.staging = _Staging(self.folders, rel)
        link = entry.meta.link if entry.meta is not None else None
        if link is not None and link in self.linked:  # another name of a file planned already
            self._add(plan, dest, entry, 0, link_to=self.linked[link])
            return
        places, offset = [], 0
        for blob_id in entry.ids:
            found = index.get(blob_id)
            if found is None:
                no = self._add(plan, dest, entry, 0)
                self.fail(no, dest, f"its data is missing from the repository (blob {blob_id.hex()[:16]})")
                return  # none of its blobs is scheduled: nothing writes a file that cannot be whole
            places.append((found, blob_id, offset))
            offset += found.raw_length
        no = self._add(plan, dest, entry, len(entry.ids))
        if link is not None:
            self.linked[link] = no
        if not entry.ids:
            os.close(os.open(self.staging.part(no), os.O_WRONLY | os.O_CREAT | _PART, 0o600, dir_fd=self.staging.fd))
            self.empty += 1
        for found, blob_id, at in places:
            plan.add_place(no, found.pack_id, found.offset, blob_id, at)
        plan.bytes += offset

    def write(self, plan: RestorePlan, workers: int) -> None:
        """The plan's jobs, a few at a time: it hands them out as the workers need them."""
        _on_pool(self._jobs(plan), workers, lambda: self.events(self.meter.event("restoring")))

    def _jobs(self, plan: RestorePlan) -> Iterator[Callable[[], None]]:
        """A pack at a time; a stop is heeded between packs (a part-written file stays in staging,
        removed as the restore ends, and never takes a name)."""
        for pack_id, blobs in plan.by_pack():
            self.session.stop.check()
            yield partial(self.restore_pack, pack_id, blobs)

    def restore_pack(self, pack_id: bytes, blobs: list[tuple[bytes, list[Place]]]) -> None:
        """Each blob is written as it is opened, so a worker holds one pack's bytes, not also all
        its blobs opened."""
        index, places = self.session.index, dict(blobs)
        try:
            for blob_id, data in self.store.read_pack(pack_id, [(b, index.get(b)) for b, _ in blobs]):
                self._write_blob(data, places.pop(blob_id))
        except Exception as e:  # noqa: BLE001 - a pack we cannot read fails only its files
            failure = IntegrityError(f"pack {pack_id.hex()[:16]} cannot be read ({e})")
            for targets in places.values():
                self._write_blob(failure, targets)

    def _write_blob(self, data: bytes | IntegrityError, targets: list[Place]) -> None:
        for file, path, at in targets:
            if isinstance(data, IntegrityError):
                self.fail(file, path, str(data))
                continue
            try:
                _write_at(self.staging.fd, self.staging.part(file), data, at)
            except OSError as e:  # a full disk, a name too long: this file only
                self.fail(file, path, f"could not be written: {e.strerror}")
                continue
            with self._lock:
                self.remaining[file] -= 1
                done = self.remaining[file] == 0
            self.meter.add(len(data), files=int(done))

    def finish(self, plan: RestorePlan, workers: int) -> None:
        """Files get their metadata and names on the pool (a rename into another folder waits on
        the disk), a batch at a time; then links, then folders deepest first. After a stop, only
        the files written whole: the next restore finds them there and writes the rest."""
        files = plan.entries(Kind.FILE)
        batches = iter(lambda: list(islice(files, _NAME_BATCH)), [])
        _on_pool((partial(self._name_files, batch) for batch in batches), workers)
        self._link_names(plan)
        for path, reason in self.failed.values():
            self.skipped.append(FileSkipped(os.fsdecode(path), f"not restored: {reason}"))
        for _, path, entry in plan.entries(Kind.SYMLINK):  # Linux keeps no user.* attributes on links
            with self._said_if_not_set(path):
                folder, name = self.folders.at(self.rel(path))
                os.utime(name, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=folder, follow_symlinks=False)
        for _, path, entry in plan.entries(Kind.DIR, deepest_first=True):
            with self._said_if_not_set(path):
                fd = self.folders.fd(self.rel(path))
                self.note(path, _set_meta(fd, entry, self.owners) + _set_flags(fd, entry))
        if self.given_to_me:
            said = (
                f"{self.given_to_me} item(s) belonged to another user and are now yours "
                "(restore as an administrator to keep their owners)"
            )
            self.notes.append(FileSkipped(os.fsdecode(self.target), said, warning=False))

    def _link_names(self, plan: RestorePlan) -> None:
        """Hard links: each further name of a file made as a link to its first, once that is in place."""
        for no, path, first, first_path in plan.hard_links():
            if first in self.failed or self.remaining[first]:
                self.fail(no, path, f"it is another name of {os.fsdecode(first_path)}, which was not restored")
                continue
            try:
                src_folder, src_name = self.folders.at(self.rel(first_path))
                src_folder = os.dup(src_folder)  # the next lookup may close it
                try:
                    folder, name = self.folders.at(self.rel(path))
                    if self.overwrite:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(name, dir_fd=folder)
                    os.link(src_name, name, src_dir_fd=src_folder, dst_dir_fd=folder, follow_symlinks=False)
                finally:
                    os.close(src_folder)
            except OSError as e:
                self.fail(no, path, f"could not be made as another name of {os.fsdecode(first_path)}: {e.strerror}")
                continue
            self.meter.add(0, files=1)

    @contextlib.contextmanager
    def _said_if_not_set(self, path: bytes) -> Iterator[None]:
        """A folder's or link's metadata; one swapped for something else meanwhile is said, not followed."""
        try:
            yield
        except OSError as e:
            self.skipped.append(FileSkipped(os.fsdecode(path), f"its times and permissions were not set: {e.strerror}"))

    def _name_files(self, files: list[tuple[int, bytes, TreeEntry]]) -> None:
        """Each whole file gets its metadata, then its name (a file already there with it, only
        with --overwrite, is replaced at once); a failed one is dropped, and what was there stays."""
        staging, folders = self.staging.fd, _Folders(self.root)
        try:
            for no, path, entry in files:
                part = self.staging.part(no)
                if no not in self.failed and not self.remaining[no]:  # whole (all of it, unless stopped)
                    try:
                        fd = os.open(part, os.O_WRONLY | _PART, dir_fd=staging)
                        try:
                            os.ftruncate(fd, entry.size)  # a file ending in zeros left as a hole: its length
                            missed = _set_meta(fd, entry, self.owners)
                            _put_in_place(staging, part, *folders.at(self.rel(path)), entry, self.owners)
                            self.note(path, missed + _set_flags(fd, entry))
                        finally:
                            os.close(fd)
                        continue
                    except OSError as e:  # a folder where the file goes, a link swapped in, no room: this file only
                        self.fail(no, path, _why_not_written(e))
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(part, dir_fd=staging)
        finally:
            folders.close()


def run_restore(
    session: Session,
    snap: Snapshot,
    target: str,
    includes: list[str] = (),
    overwrite: bool = False,
    events: EventSink = lambda ev: None,
    clock: Clock = SYSTEM_CLOCK,
    workers: int | None = None,
    mirrors: tuple[Backend, ...] = (),
    owners: str = OWNERS_BY_NAME,
) -> RestoreSummary:
    """`mirrors`: other destinations of this repository, read for the data that fails here.
    `owners`: for a restore as root, owners by name (`OWNERS_BY_NAME`) or by number (`OWNERS_BY_ID`)."""
    require(session, NEEDS)
    forget_unlisted_packs(session, keep_unplaced=True)  # a blob stored again after its pack was lost: its new place
    t0 = clock.monotonic()
    dest = os.path.abspath(os.fsencode(os.path.expanduser(target)))
    os.makedirs(dest, exist_ok=True)
    r = _Restorer(session, dest, overwrite, events, clock, mirrors, owners)
    try:
        with RestorePlan() as plan:
            r.plan(snap, [normalize_include(snap, i) for i in includes], plan)
            r.meter.files_total, r.meter.bytes_total = plan.files, plan.bytes
            r.meter.add(0, files=r.empty)
            workers = workers or min(4, os.cpu_count() or 2)
            try:
                r.write(plan, workers)
            except Stopped:
                r.finish(plan, workers)  # the files written whole before the stop take their names
                raise
            r.finish(plan, workers)
    finally:
        r.close()
    for s in (*r.kept, *r.skipped, *r.notes):
        events(s)
    for pack_id, where in sorted(r.store.mended.items()):
        said = f"was damaged or missing at {session.repo.backend.location}; its data came from {where}"
        events(FileSkipped(f"pack {pack_id.hex()[:16]}", f"{said} (`backbeat check --repair` mends it)", False))
    return RestoreSummary(
        files=plan.files - len(r.failed),
        dirs=plan.dirs,
        links=plan.links,
        bytes=r.meter.bytes_done,
        duration=clock.monotonic() - t0,
        failed=tuple(r.skipped),
        already_there=r.already_there,
        kept=tuple(r.kept),
    )
