"""Restore: snapshot (and selected paths) -> files, folders and links on disk, exactly.

The plan walks the snapshot's trees, creates folders and links, and records every content
blob's places in the files that need it, on disk (`engine.local.restoreplan`: a million files
must not cost a gigabyte); it hands them back pack by pack, so the parts of each pack a restore
needs are read once (in ranges: `BlobStore.read_pack`), on a pool of threads, and each blob is
verified (authenticated, id rechecked) before it is written. A blob that fails makes *its files*
fail: they are dropped and reported, never left looking restored; the rest goes on. Metadata
(mode, mtime in ns, extended attributes) is set last, folders deepest first, so read-only
folders restore too.

Files are written in a staging folder inside the target and get their names only whole, with
their metadata: a restore cut off (kill -9, a full disk) leaves no file that looks restored and is
not, and the same restore run again skips the files already restored (same size and mtime) and
writes the rest. Existing files are never overwritten unless asked, and then only once their new
content is whole: a file whose data turns out damaged leaves the old one as it was.

Everything below the target is reached through folder descriptors, never following a link, and
files are written in a staging folder of this process's own (`engine.jobs.target`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

from engine.backends.base import Backend
from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.errors import BadRestoreTarget, IntegrityError, PathNotInSnapshot, Stopped
from engine.base.events import EventSink, FileSkipped, RestoreSummary
from engine.base.progress import Meter
from engine.jobs.needs import Needs, require
from engine.jobs.session import Session, forget_unlisted_packs
from engine.jobs.target import (
    OWNERS_BY_ID,
    OWNERS_BY_NAME,
    Folders,
    Owners,
    Staging,
    already_there,
    put_in_place,
    set_flags,
    set_meta,
    why_not_written,
    write_at,
)
from engine.local.restoreplan import Place, RestorePlan
from engine.repo.blobstore import BlobStore
from engine.repo.snapshot import Snapshot
from engine.repo.tree import Kind, TreeEntry, decode_entry
from engine.repo.walk import folder_entries

__all__ = [
    "NEEDS",
    "OWNERS_BY_ID",
    "OWNERS_BY_NAME",
    "check_request",
    "entries_under",
    "not_in",
    "run_restore",
    "walk_snapshot",
    "normalize_include",
]

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


class _Whole(NamedTuple):
    """A file written whole and settled in staging, waiting for its name (sorted: by path, which
    is unique in a restore, so nothing after it is ever compared)."""

    path: bytes
    file: int
    entry: TreeEntry
    missed: list[str]


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
        self.folders = Folders(self.root)  # for the plan, on this thread
        #: each pack worker's own (a `Folders` is for one thread), all closed with the restorer
        self._worker = threading.local()
        self._workers_folders: list[Folders] = []
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
        self.staging: Staging | None = None  # made when the plan meets the first file to write
        self._lock = threading.Lock()
        #: owners are set back only by a restore as root (anyone else may only give files away)
        self.owners = Owners(owners) if os.geteuid() == 0 else None
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
        for folders in (self.folders, *self._workers_folders):
            folders.close()
        os.close(self.root)

    def _folders(self) -> Folders:
        """The calling pack worker's own open folders."""
        folders = getattr(self._worker, "folders", None)
        if folders is None:
            folders = self._worker.folders = Folders(self.root)
            with self._lock:
                self._workers_folders.append(folders)
        return folders

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
            if entry.kind == Kind.FILE and already_there(folder, name, entry):
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
        arrives, and named by the job that writes their last, as it ends: creation is the costly
        part of a restore, so it runs in parallel, while other packs download. Only empty ones are
        made here."""
        if self.staging is None:
            self.staging = Staging(self.folders, rel)
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
            fd = self.staging.open(no)
            try:
                self.empty += self._name(fd, no, dest, entry, self.folders)
            finally:
                os.close(fd)
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
        its blobs opened. The files the job made whole are named as it ends, in path order: a
        pack's files come in the backup's reading order (by value, `engine.config.priority`),
        scattered over the tree, and in path order each folder on their way is opened once."""
        index, places = self.session.index, dict(blobs)
        whole: list[_Whole] = []
        try:
            for blob_id, data in self.store.read_pack(pack_id, [(b, index.get(b)) for b, _ in blobs]):
                self._write_blob(data, places.pop(blob_id), whole)
        except Exception as e:  # noqa: BLE001 - a pack we cannot read fails only its files
            failure = IntegrityError(f"pack {pack_id.hex()[:16]} cannot be read ({e})")
            for targets in places.values():
                self._write_blob(failure, targets, whole)
        finally:
            folders = self._folders()
            named = sum(self._put(file, path, entry, missed, folders) for path, file, entry, missed in sorted(whole))
            self.meter.add(0, files=named)

    def _write_blob(self, data: bytes | IntegrityError, targets: list[Place], whole: list[_Whole]) -> None:
        """Write a blob in each place it goes; the write that makes a file whole gives it its
        length and metadata through the descriptor it wrote with, and adds it to `whole` (one
        with flags, which may lock it, is named at once and takes them last)."""
        for file, path, at, entry in targets:
            if isinstance(data, IntegrityError):
                self.fail(file, path, str(data))
                continue
            named = False
            try:
                fd = self.staging.open(file)
                try:
                    write_at(fd, data, at)
                    with self._lock:
                        self.remaining[file] -= 1
                        done = self.remaining[file] == 0 and file not in self.failed
                    if done:
                        tree_entry = decode_entry(memoryview(entry))[0]
                        if tree_entry.meta is not None and tree_entry.meta.flags:
                            named = self._name(fd, file, path, tree_entry, self._folders())
                        elif (missed := self._settle(fd, file, path, tree_entry)) is not None:
                            whole.append(_Whole(path, file, tree_entry, missed))
                finally:
                    os.close(fd)
            except OSError as e:  # a full disk, a name too long: this file only
                self.fail(file, path, f"could not be written: {e.strerror}")
                continue
            self.meter.add(len(data), files=int(named))

    def _name(self, fd: int, file: int, path: bytes, entry: TreeEntry, folders: Folders) -> bool:
        """A whole file (open as `fd` in staging) takes its length, metadata, name and flags;
        False (and said) when it cannot: what was there stays."""
        missed = self._settle(fd, file, path, entry)
        if missed is None or not self._put(file, path, entry, [], folders):
            return False
        self.note(path, missed + set_flags(fd, entry))
        return True

    def _settle(self, fd: int, file: int, path: bytes, entry: TreeEntry) -> list[str] | None:
        """A whole file's length and metadata: what could not be set, or None when it failed (said)."""
        try:
            os.ftruncate(fd, entry.size)  # a file ending in zeros left as a hole: its length
            return set_meta(fd, entry, self.owners)
        except OSError as e:  # no room: this file only
            self.fail(file, path, why_not_written(e))
            return None

    def _put(self, file: int, path: bytes, entry: TreeEntry, missed: list[str], folders: Folders) -> bool:
        """A settled file takes its name; False (and said) when it cannot: what was there stays."""
        try:
            put_in_place(self.staging.fd, self.staging.part(file), *folders.at(self.rel(path)), entry, self.owners)
        except OSError as e:  # a folder where the file goes, a link swapped in, no room: this file only
            self.fail(file, path, why_not_written(e))
            return False
        self.note(path, missed)
        return True

    def finish(self, plan: RestorePlan) -> None:
        """Once the files are named (as each pack job ended: after a stop, the next restore finds
        them there and writes the rest), the further names of hard-linked files, then the times of
        links, then folders' metadata, deepest first."""
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
                self.note(path, set_meta(fd, entry, self.owners) + set_flags(fd, entry))
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
                r.finish(plan)  # the hard links and folders of the files named before the stop
                raise
            r.finish(plan)
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
