"""Small files read in helper processes, so that a home's many small files use every core.

Reading a small file is a dozen system calls and some compiled work (hash, compress, encrypt) on
a few kilobytes, glued by Python: the GIL, not the disk, sets the pace, and a second reading
thread only waits for it (engine.jobs.reading). A helper process has a GIL of its own. It opens,
reads, stats, hashes and seals a batch of small files and hands back, for each, its record and
its sealed blob; the backup's own reading thread decides what is new (`BlobStore.reserve`: one
place knows what is stored, so a blob two helpers both read is stored once) and adds it to a
pack. A helper never writes anything: a file it could not read whole and unchanged is read again
by the reading thread itself, which says what went wrong.

Helpers are started (spawned, not forked: the backup runs threads) only for a run with many
files to read: starting one costs a fresh interpreter and its imports (~0.2 s). This module is
what a helper imports: it stays clear of the session, the local state and the network.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import signal
import stat
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from engine.base.logs import log
from engine.base.metadata import Metadata
from engine.local import filerecord
from engine.platform import current as platform
from engine.repo.blob import BlobType, Compression, seal_blob
from engine.repo.crypto import MasterKey
from engine.repo.tree import Kind, TreeEntry, name_of

__all__ = [
    "FileChanged",
    "Vanished",
    "Outcome",
    "open_file",
    "regular",
    "read_small",
    "file_record",
    "Helpers",
    "helper_count",
    "HELPERS_FROM",
]

#: files to read in a run before helpers are started: under it, their start costs more than they save
HELPERS_FROM = 10_000
_MOST_HELPERS = 4
_STOP_WAIT = 5.0  # seconds a helper has to end by itself once its pipe is closed
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)

#: (record, blob id, sealed blob, compression, bytes read) of a file a helper read; None: read it again here
Outcome = tuple[bytes, bytes, bytes, Compression, int] | None


class FileChanged(Exception):
    pass


class Vanished(Exception):
    """The file to read was deleted after the scan (not any other missing file: a pack's, say)."""


def open_file(path: bytes) -> int:
    """A descriptor of the file at `path`, never through a link and never blocked by a FIFO: both
    may have been swapped in since the scan."""
    try:
        return os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        raise Vanished() from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise FileChanged("it is no longer a regular file") from None
        raise


def regular(fd: int) -> os.stat_result:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise FileChanged("it is no longer a regular file")
    return st


def read_small(fd: int, size: int) -> bytes:
    """A file of `size` bytes, smaller than a chunk, by one read (a byte more: a file that grew is seen to)."""
    data = os.read(fd, size + 1)
    while len(data) < size and (more := os.read(fd, size + 1 - len(data))):
        data += more  # a short read (a network or FUSE file system may give one)
    return data


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns, a.st_ctime_ns, a.st_ino) == (b.st_size, b.st_mtime_ns, b.st_ctime_ns, b.st_ino)


def file_record(
    path: bytes, before: os.stat_result, after: os.stat_result, read: int, ids: list[bytes], meta: Metadata
) -> bytes:
    """The files-cache record of a file read whole (`filerecord`); FileChanged when it changed while read."""
    if not _same(before, after) or read != before.st_size:
        raise FileChanged("it changed while being read")
    mode, mtime, xattrs = stat.S_IMODE(before.st_mode), before.st_mtime_ns, platform().xattrs(path)
    entry = TreeEntry(name_of(path), Kind.FILE, mode, mtime, read, xattrs=xattrs, ids=tuple(ids), meta=meta)
    return filerecord.make(before, entry)


# -- inside a helper ---------------------------------------------------------------------------
def _serve(conn: Connection, key: MasterKey) -> None:
    """A helper's life: batches in, outcomes out, until the backup says stop or is gone (its end
    of the pipe closed: a backup killed by kill -9 leaves no helper behind)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the backup stops them
    platform().throttle_disk_io()  # the computer stays responsive while a backup reads
    try:
        while (batch := conn.recv()) is not None:
            conn.send(_read_batch(key, *batch))
    except (EOFError, OSError):
        pass


def _read_batch(key: MasterKey, paths: list[bytes], limit: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for path in paths:
        try:
            outcomes.append(_read_one(key, path, limit))
        except (FileChanged, Vanished, OSError):
            outcomes.append(None)  # read again by the reading thread, which says what went wrong
    return outcomes


def _read_one(key: MasterKey, path: bytes, limit: int) -> Outcome:
    fd = open_file(path)
    try:
        before = regular(fd)
        if before.st_size >= limit:
            raise FileChanged("it grew")
        data = read_small(fd, before.st_size)
        after = os.fstat(fd)
        meta = platform().metadata(path, after, fd)
    finally:
        os.close(fd)
    if not data:
        return file_record(path, before, after, 0, [], meta), b"", b"", Compression.RAW, 0
    blob_id = key.blob_id(data)
    sealed, compression = seal_blob(key, blob_id, BlobType.DATA, data)
    return file_record(path, before, after, len(data), [blob_id], meta), blob_id, sealed, compression, len(data)


# -- the backup's side -------------------------------------------------------------------------
class Helpers:
    """`count` helper processes, each holding the repository's key (handed over its pipe, never
    written). Batches go to them in turn and come back in the order they went."""

    def __init__(self, key: MasterKey, count: int) -> None:
        self.count = count
        self.broken = False
        context = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs: list[BaseProcess] = []
        for n in range(count):
            ours, theirs = context.Pipe()
            proc = context.Process(target=_serve, args=(theirs, key), name=f"backbeat-helper-{n}", daemon=True)
            proc.start()
            theirs.close()  # only the helper holds its end: it hears EOF when the backup is gone
            self._conns.append(ours)
            self._procs.append(proc)
        self._turn = 0

    def read(self, paths: list[bytes], limit: int) -> int | None:
        """Hand these files (each smaller than `limit`) to the next helper: a ticket for `outcomes`."""
        helper, self._turn = self._turn, (self._turn + 1) % self.count
        try:
            self._conns[helper].send((paths, limit))
        except OSError:
            self._broke()
            return None
        return helper

    def outcomes(self, ticket: int | None, count: int) -> list[Outcome]:
        """An outcome for each file handed over with `ticket`, in order; when a helper died (killed,
        out of memory), none: the backup reads those files itself, and the rest of the run too."""
        if ticket is not None and not self.broken:
            try:
                return self._conns[ticket].recv()
            except (EOFError, OSError):
                self._broke()
        return [None] * count

    def _broke(self) -> None:
        if not self.broken:
            log.warning("a helper process reading small files stopped: the backup reads them itself")
        self.broken = True

    def close(self) -> None:
        """Stop the helpers, whatever they were doing: a helper waiting for work, or to hand back
        what nobody will take, sees its pipe closed and ends."""
        for conn in self._conns:
            conn.close()
        for proc in self._procs:
            proc.join(_STOP_WAIT)
            if proc.is_alive():
                proc.kill()
                proc.join()


def helper_count(files: int, cores: Callable[[], int | None] = os.cpu_count) -> int:
    """Helpers for a run reading `files` files: none for a small run or on one core; else one per
    core, though the reading thread needs a share of one (on 2 cores, 200,000 small files were read
    in 6.0 s with two helpers, 7.2 s with one: medians of 3, alternating), at most `_MOST_HELPERS`:
    each holds 30-40 MiB, and the thread that packs what they read is one (a bound chosen, not
    measured: this machine has 2 cores)."""
    count = cores() or 1
    return 0 if files < HELPERS_FROM or count < 2 else min(_MOST_HELPERS, count)
