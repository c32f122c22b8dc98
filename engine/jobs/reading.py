"""Reading the files a backup must read: each is opened without following a link, read, chunked
and hashed by one reading thread, in the work list's order; new chunks are stored (reserved,
sealed, added to a pack). Chunks of large files are sealed (zstd + AES-GCM) on a pool of `workers`
threads, so every core works even on one huge file. All of it runs in compiled code that releases
the GIL. A file that changes while it is read is read once more, then skipped with a warning; one
deleted since the scan is skipped. A read file's record (its stat and encoded tree entry) goes
back to the work list.

One reader, not one per core: a small file costs a dozen system calls, each of which hands the
GIL over, and two readers spend their time waiting for it from each other (100,000 files of
100 B-4 KiB: 99 us a file with one reader, 160 with two, 181 with three; a 1 GiB home tree: 6.0 s
against 6.8 s). A file smaller than the chunker's least size, most of a home's, is one chunk: it
is read by one read on its descriptor, without a file object or the chunker's buffer. Two processes
reading such files in batches of 1,000 did the work of one in 0.75 of its time; not done, since a
second process must also start inside the packaged Mac app, which nothing here can try.

A file only in the cloud (an iCloud placeholder) is read only when the user asked for it: it is
downloaded first (never on a metered network, asked again before each one), and once read its
local copy is given back to the cloud, so a home full of them never fills the disk.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from engine.base.events import FileSkipped
from engine.base.logs import log
from engine.base.progress import Meter
from engine.jobs.session import Session
from engine.jobs.trees import name_of
from engine.local import filerecord
from engine.local.worklist import ToRead, WorkList
from engine.platform import current as platform
from engine.repo.blob import BlobType
from engine.repo.blobstore import BlobStore
from engine.repo.chunker import Chunker
from engine.repo.tree import Kind, TreeEntry

__all__ = ["Reading"]

#: chunks at least this big are sealed on the seal pool; smaller ones inline.
_POOL_SEAL_MIN = 512 * 1024
_IN_FLIGHT = 2
_READERS = 1  # see the module's docstring
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class _FileChanged(Exception):
    pass


class _Vanished(Exception):
    """The file to read was deleted after the scan (not any other missing file: a pack's, say)."""


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns, a.st_ctime_ns, a.st_ino) == (b.st_size, b.st_mtime_ns, b.st_ctime_ns, b.st_ino)


class Reading:
    """The work list's files read into the blob store; counts what was found, for the summary."""

    def __init__(
        self, session: Session, store: BlobStore, work: WorkList, workers: int, report: Callable[[FileSkipped], None]
    ) -> None:
        self.session = session
        self.store = store
        self.work = work
        self.report = report
        self.seal_pool = ThreadPoolExecutor(workers, thread_name_prefix="backbeat-seal")
        self._local = threading.local()
        self._count_lock = threading.Lock()
        self.bytes_deduped = 0  # guarded by self._count_lock: bytes read that were stored already
        self.bytes_read = 0  # guarded by self._count_lock: bytes of the files read whole
        self.files_new = 0  # guarded by self._count_lock
        self.files_changed = 0  # guarded by self._count_lock
        self.files_same = 0  # guarded by self._count_lock: read again, found as the files cache had them
        #: numbers of the files only in the cloud to download, read and evict (filled before reading starts)
        self.fetch: set[int] = set()
        self.fetched = 0  # guarded by self._count_lock: of those, downloaded and read
        self.left_in_cloud = 0  # guarded by self._count_lock: of those, not downloaded (a metered network)
        self.left_in_cloud_bytes = 0  # guarded by self._count_lock

    def _chunker(self) -> Chunker:
        if not hasattr(self._local, "chunker"):
            c = self.session.repo.chunker
            self._local.chunker = Chunker(c.min_size, c.avg_size, c.max_size, self.session.repo.chunker_seed)
        return self._local.chunker

    # -- one file ----------------------------------------------------------------------------
    def _read_once(self, path: bytes, progress: Meter) -> bytes:
        try:  # never through a link, never blocked by a FIFO: both may have been swapped in since the scan
            fd = os.open(path, _READ_FLAGS)
        except FileNotFoundError:
            raise _Vanished() from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise _FileChanged("it is no longer a regular file") from None
            raise
        futures: deque[Future] = deque()
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                raise _FileChanged("it is no longer a regular file")
            ids: list[bytes] = []
            chunker = self._chunker()
            if before.st_size < chunker.min_size:  # one chunk at most (a home's most files): one read
                data = os.read(fd, before.st_size + 1)  # a byte more: a file that grew is seen to
                while len(data) < before.st_size and (more := os.read(fd, before.st_size + 1 - len(data))):
                    data += more  # a short read (a network or FUSE file system may give one)
                if data:
                    self._store_chunk(data, ids, futures, progress)
                read = len(data)
            else:
                read = 0
                with open(fd, "rb", buffering=0, closefd=False) as f:
                    for chunk in chunker.cut_file(f):
                        read += self._store_chunk(chunk, ids, futures, progress)
            after = os.fstat(fd)
            meta = platform().metadata(path, after, fd)
        finally:
            try:
                while futures:  # a reserved blob must always reach a pack, whatever happened
                    self.store.add(futures.popleft().result())
            finally:
                os.close(fd)
        if not _same(before, after) or read != before.st_size:
            progress.add(-read)
            raise _FileChanged("it changed while being read")
        with self._count_lock:
            self.bytes_read += read
        mode = stat.S_IMODE(before.st_mode)
        xattrs = platform().xattrs(path)
        entry = TreeEntry(
            name_of(path), Kind.FILE, mode, before.st_mtime_ns, read, xattrs=xattrs, ids=tuple(ids), meta=meta
        )
        return filerecord.make(before, entry)

    def _store_chunk(self, chunk: bytes | memoryview, ids: list[bytes], futures: deque[Future], progress: Meter) -> int:
        """One chunk of a file into the store (or found there): its length. A large chunk is sealed
        on the pool, at most `_IN_FLIGHT` at a time; the caller adds what `futures` still holds."""
        self.session.stop.check()  # a large file: every reserved blob still reaches a pack (the caller's finally)
        store = self.store
        blob_id = store.blob_id(chunk)
        ids.append(blob_id)
        progress.add(len(chunk))
        if not store.reserve(blob_id):
            with self._count_lock:
                self.bytes_deduped += len(chunk)
        elif len(chunk) < _POOL_SEAL_MIN:
            store.add(store.seal(blob_id, BlobType.DATA, chunk))
        else:
            futures.append(self.seal_pool.submit(store.seal, blob_id, BlobType.DATA, bytes(chunk)))
            while len(futures) >= _IN_FLIGHT:
                store.add(futures.popleft().result())
        return len(chunk)

    def store_file(self, file: ToRead, progress: Meter) -> None:
        name = os.fsdecode(file.path)
        if file.no in self.fetch and not self._fetched(file.path, name):
            with self._count_lock:
                self.left_in_cloud += 1
                self.left_in_cloud_bytes += file.size
            progress.add(0, files=1)
            return
        for attempt in (1, 2):
            try:
                record = self._read_once(file.path, progress)
                self.work.done(file.no, record)
                with self._count_lock:
                    if file.cached is None:
                        self.files_new += 1
                    elif filerecord.digest(record) == file.cached:
                        self.files_same += 1  # read again to be sure (it changed just before the run), and the same
                    else:
                        self.files_changed += 1
                if file.no in self.fetch:
                    with self._count_lock:
                        self.fetched += 1
                break
            except _FileChanged as e:
                if attempt == 2:
                    self.report(FileSkipped(name, f"{e}; it will be backed up next time", warning=True))
            except _Vanished:
                self.report(FileSkipped(name, "it was deleted before it could be read", warning=True))
                break
            except OSError as e:
                self.report(FileSkipped(name, f"cannot read it ({e.strerror})", warning=True))
                break
        if file.no in self.fetch and not platform().evict(file.path):  # read or not, its space goes back
            log.info("%s stays downloaded: the system did not take its space back", name)
        progress.add(0, files=1)

    def _fetched(self, path: bytes, name: str) -> bool:
        """Download a file that is only in the cloud; False (said) when it must stay there."""
        system = platform()
        metered = system.metered_network()
        if metered is not None:
            self.report(FileSkipped(name, f"only in iCloud, and not downloaded {metered}", warning=True))
            return False
        try:
            system.fetch(path)
        except OSError as e:
            self.report(FileSkipped(name, f"only in iCloud, and could not be downloaded ({e.strerror})", warning=True))
            return False
        return True

    # -- all of them ---------------------------------------------------------------------------
    def read_all(self, progress: Meter) -> None:
        """Worker threads pull files from the work list, in its order; the first error stops them all."""
        order = self.work.order()
        lock = threading.Lock()
        errors: list[BaseException] = []

        def worker() -> None:
            platform().throttle_disk_io()  # the computer stays responsive while a backup reads
            while not errors:
                with lock:
                    file = next(order, None)
                if file is None:
                    return
                try:
                    self.session.stop.check()  # between files: what was read is in the outbox
                    self.store_file(file, progress)
                except BaseException as e:  # noqa: BLE001 - re-raised on the run's thread
                    errors.append(e)

        threads = [threading.Thread(target=worker, name=f"backbeat-read-{i}") for i in range(_READERS)]
        for t in threads:
            t.start()
        try:
            for t in threads:
                t.join()
        except BaseException as e:  # Ctrl-C: the workers stop after the file they are reading
            errors.append(e)
            raise
        if errors:
            raise errors[0]
        self.work.flush()

    def close(self) -> None:
        self.seal_pool.shutdown()
