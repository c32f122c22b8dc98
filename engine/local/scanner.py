"""Walk the selected paths into a spool (`engine.local.spool`): what to back up, with its metadata, in tree order.

The scan never follows symlinks (they are stored as links, so a link loop cannot trap it),
stores regular files, folders and links, and reports what it leaves out: unreadable folders
as warnings, FIFOs, sockets and devices as notes, what the system marks as not worth backing up
(cache folders, Time Machine exclusions; `engine.platform`) as notes, the user's exclusions
silently. Backbeat's own app-data folder is always excluded (it holds the default repository).
A file whose content is only in the cloud (an iCloud placeholder) is spooled as such, never
opened: the backup decides what to do with it. The tree is rooted at
the deepest folder holding every selected path, so one or many sources restore naturally.

A partial scan (the watcher's) lists only the folders on the way to a changed path and those
under a changed folder; every other folder is taken whole from the previous snapshot (its tree
id), so a change deep in a big tree costs a few directory listings, not a walk of everything.
"""

from __future__ import annotations

import fnmatch
import heapq
import os
import stat
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from engine.base.events import FileSkipped
from engine.base.stop import NEVER, Stop
from engine.local.spool import Spool, pack_meta, room_said, tree_key
from engine.platform import Exclusion, photos
from engine.platform import current as platform

__all__ = ["Scan", "Partial", "scan"]

_RUN = 262_144  # names sorted in memory at a time (~15 MB); a bigger folder's listing is merged from runs
_NAME = struct.Struct("<H")
_BLOCK = 1 << 16


@dataclass
class Scan:
    spool: Spool
    base: bytes
    paths: list[bytes]
    #: items the system marks as not worth backing up (cache folders, Time Machine exclusions), left out
    left_out: int = 0
    #: originals that Photos libraries in the selection keep only in iCloud (none of them is backed up)
    photos_in_icloud: int = 0
    #: only the folders on the way to what changed were listed (`Partial`); the rest is the previous snapshot's
    partial: bool = False


class Partial:
    """Which folders a partial scan lists; `previous(path)` gives a folder's tree id in the previous
    snapshot (None when it had none: then the folder is listed after all)."""

    def __init__(self, changed: Iterable[bytes], previous: Callable[[bytes], bytes | None]) -> None:
        self.changed = {p.rstrip(b"/") for p in changed}
        self.previous = previous
        self.on_the_way: set[bytes] = set()
        for p in self.changed:
            while (parent := os.path.dirname(p)) != p:
                self.on_the_way.add(parent)
                p = parent

    def must_list(self, path: bytes) -> bool:
        if path in self.on_the_way:
            return True
        while True:  # at or under a changed path (a new or moved folder)
            if path in self.changed:
                return True
            parent = os.path.dirname(path)
            if parent == path:
                return False
            path = parent


class _Walker:
    def __init__(
        self,
        spool: Spool,
        excludes: list[str],
        never: list[bytes],
        report: Callable[[FileSkipped], None],
        partial: Partial | None = None,
        stop: Stop = NEVER,
    ) -> None:
        self.spool = spool
        self.stop = stop
        self.excludes = [os.fsencode(p) for p in excludes]
        #: folders never backed up (Backbeat's own): the walk stops at them, so nothing under one is reached
        self.never = set(never)
        self.report = report
        self.partial = partial
        self.system = platform()
        #: items the system marks as not worth backing up, left out (each said as a note)
        self.left_out = 0
        self.photos_in_icloud = 0  # originals Photos libraries keep only in iCloud (each library said)

    def excluded(self, path: bytes, name: bytes) -> bool:
        """Once per entry of every folder: a set lookup, and patterns only when there are some."""
        if path in self.never:
            return True
        match = fnmatch.fnmatchcase
        return bool(self.excludes) and any(match(name, p) or match(path, p) for p in self.excludes)

    def walk(self, path: bytes, st: os.stat_result) -> None:
        """Spool the entry at `path` (a folder: with everything under it). A stack of the folders
        being listed, not recursion: a folder thousands of levels deep is walked like any other."""
        if not self.visit(path, st):
            return
        stack = [self.children(path)]
        while stack:
            for child, child_st in stack[-1]:
                if self.visit(child, child_st):
                    self.stop.check()  # once a folder: a scan of a whole home ends soon after a stop
                    stack.append(self.children(child))
                    break
            else:
                stack.pop()
                self.spool.leave()

    def visit(self, path: bytes, st: os.stat_result) -> bool:
        """Spool one entry; True when it is a folder just entered (its children come next)."""
        mode = st.st_mode
        spool = self.spool
        if stat.S_ISREG(mode):
            if not self.system_excludes(path, False):
                (spool.cloud_only if self.system.dataless(st) else spool.file)(path, st)
        elif stat.S_ISLNK(mode):
            try:
                spool.link(path, pack_meta(st), os.readlink(path))
            except OSError as e:
                self.report(FileSkipped(os.fsdecode(path), f"cannot read the link ({e.strerror})", warning=True))
        elif stat.S_ISDIR(mode):
            if self.system_excludes(path, True):
                return False
            if self.partial is not None and not self.partial.must_list(path):
                tree_id = self.partial.previous(path)
                if tree_id is not None:
                    spool.kept(path, pack_meta(st), tree_id)
                    return False
            spool.enter(path, pack_meta(st))
            if path.endswith(photos.LIBRARY_SUFFIX):
                self.photos_library(path)
            return True
        else:
            what = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
            self.report(FileSkipped(os.fsdecode(path), f"{what} (not a regular file), left out", warning=False))
        return False

    def system_excludes(self, path: bytes, is_dir: bool) -> bool:
        why: Exclusion | None = self.system.excluded(path, is_dir)
        if why is not None:
            self.left_out += 1
            self.report(FileSkipped(os.fsdecode(path), f"{why.value}: left out", warning=False))
        return why is not None

    def photos_library(self, path: bytes) -> None:
        """A Photos library: its files are backed up as files; what it keeps only in iCloud is said."""
        counted = self.system.photos_in_icloud(path)
        if counted is None or counted[0] == 0:
            return
        missing, listed = counted
        self.photos_in_icloud += missing
        self.report(FileSkipped(os.fsdecode(path), photos.describe(missing, listed), warning=True))

    def children(self, path: bytes) -> Iterator[tuple[bytes, os.stat_result]]:
        """The loop every entry goes through: a regular file is spooled here, without a call more
        (but the system's two questions, on a Mac); the rest is handed back to `walk`."""
        prefix = path if path.endswith(b"/") else path + b"/"
        never, patterns, lstat, regular, spool = self.never, bool(self.excludes), os.lstat, stat.S_ISREG, self.spool
        ask_files, dataless = self.system.excludes_files, self.system.dataless
        for name in self.names(path):
            child = prefix + name
            if child in never or (patterns and self.excluded(child, name)):
                continue
            try:
                st = lstat(child)
            except OSError as e:
                self.report(FileSkipped(os.fsdecode(child), f"cannot read it ({e.strerror})", warning=True))
                continue
            if regular(st.st_mode):
                if ask_files and self.system_excludes(child, False):
                    continue
                if dataless(st):
                    spool.cloud_only(child, st)
                else:
                    spool.file(child, st)
            else:
                yield child, st

    def names(self, path: bytes) -> Iterator[bytes]:
        """A folder's names in order, never all held: a huge listing is sorted in runs kept in
        temporary files and merged (a million names held cost ~60 MB)."""
        runs: list[Iterator[bytes]] = []
        run: list[bytes] = []
        try:
            with os.scandir(path) as listing:
                for entry in listing:
                    run.append(entry.name)
                    if len(run) >= _RUN:
                        runs.append(_spilled(sorted(run)))
                        run = []
        except OSError as e:
            self.report(FileSkipped(os.fsdecode(path), f"cannot read the folder ({e.strerror})", warning=True))
            return
        run.sort()
        yield from heapq.merge(*runs, run) if runs else run


def _spilled(names: list[bytes]) -> Iterator[bytes]:
    """`names` written to a temporary file (unlinked at once), read back one by one."""
    f = tempfile.TemporaryFile(buffering=_BLOCK, prefix="backbeat-names-")
    with room_said():
        f.write(b"".join(_NAME.pack(len(n)) + n for n in names))
        f.seek(0)

    def read() -> Iterator[bytes]:
        with f:
            while head := f.read(_NAME.size):
                yield f.read(_NAME.unpack(head)[0])

    return read()


def _base_of(paths: list[bytes]) -> bytes:
    if len(paths) == 1:
        return os.path.dirname(paths[0]) or paths[0]
    return os.path.commonpath(paths)


def scan(
    sources: list[str],
    excludes: list[str],
    never: list[bytes],
    report: Callable[[FileSkipped], None],
    partial: Partial | None = None,
    stop: Stop = NEVER,
) -> Scan:
    """Scan `sources` into a spool; missing ones are reported as warnings and left out. A `stop`
    asked ends it (raising `Stopped`) at the next folder."""
    paths = sorted({os.path.abspath(os.fsencode(os.path.expanduser(s))) for s in sources}, key=tree_key)
    paths = [p for p in paths if not any(p.startswith(q.rstrip(b"/") + b"/") for q in paths if q != p)]
    found: list[tuple[bytes, os.stat_result]] = []
    for p in paths:
        if any(p == n or p.startswith(n.rstrip(b"/") + b"/") for n in never):
            report(FileSkipped(os.fsdecode(p), "Backbeat's own folder: it is never backed up", warning=False))
            continue
        try:
            found.append((p, os.lstat(p)))
        except OSError as e:
            report(FileSkipped(os.fsdecode(p), f"cannot back it up ({e.strerror})", warning=True))
    selected = [p for p, _ in found]
    base = _base_of(selected) if selected else b"/"
    spool = Spool()
    try:
        walker = _Walker(spool, excludes, never, report, partial, stop)
        spool.enter(base, pack_meta(os.lstat(base)))
        entered = [base]  # the folders between the base and the source being walked
        for p, st in found:
            on_the_way = _folders_between(base, p)
            while entered != on_the_way[: len(entered)]:
                spool.leave()
                entered.pop()
            for folder in on_the_way[len(entered) :]:
                spool.enter(folder, pack_meta(os.lstat(folder)))
                entered.append(folder)
            walker.walk(p, st)
        for _ in entered:
            spool.leave()
        spool.finish()
    except BaseException:
        spool.close()
        raise
    return Scan(spool, base, selected, walker.left_out, walker.photos_in_icloud, partial is not None)


def _folders_between(base: bytes, path: bytes) -> list[bytes]:
    """`base` and each folder under it on the way to `path` (the sources come in tree order, so
    the folders between them, with their real metadata, keep name order in the spool)."""
    out = [base]
    for part in os.path.relpath(path, base).split(b"/")[:-1]:
        out.append(os.path.join(out[-1], part))
    return out
