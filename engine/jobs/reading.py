"""Reading the files a backup must read: each is opened without following a link, read, chunked
and hashed by one reading thread, in the work list's order; new chunks are stored (reserved,
sealed, added to a pack). Chunks of large files are sealed (zstd + AES-GCM) on a pool of `workers`
threads, so every core works even on one huge file. All of it runs in compiled code that releases
the GIL. A file that changes while it is read is read once more, then skipped with a warning; one
deleted since the scan is skipped. A read file's record (its stat and encoded tree entry) goes
back to the work list.

One reading thread, not one per core: a small file costs a dozen system calls, each of which
hands the GIL over, and two readers spend their time waiting for it from each other (100,000
files of 100 B-4 KiB: 99 us a file with one reader, 160 with two, 181 with three). A file smaller
than the chunker's least size, most of a home's, is one chunk: it is read by one read on its
descriptor, without a file object or the chunker's buffer. In a run with many files to read,
helper processes read, hash and seal the small files in batches, each with a GIL of its own
(engine.jobs.smallfiles), and the thread reads the large ones meanwhile.

A file only in the cloud (an iCloud placeholder) is read only when the user asked for it: it is
downloaded first (never on a metered network, asked again before each one), and once read its
local copy is given back to the cloud, so a home full of them never fills the disk.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from engine.base.events import FileSkipped
from engine.base.logs import log
from engine.base.progress import Meter
from engine.jobs.session import Session
from engine.jobs.smallfiles import (
    FileChanged,
    Helpers,
    Outcome,
    Vanished,
    file_record,
    helper_count,
    open_file,
    read_small,
    regular,
)
from engine.local import filerecord
from engine.local.worklist import ToRead, WorkList
from engine.platform import current as platform
from engine.repo.blob import BlobType
from engine.repo.blobstore import BlobStore, Sealed
from engine.repo.chunker import Chunker

__all__ = ["Reading"]

#: chunks at least this big are sealed on the seal pool; smaller ones inline.
_POOL_SEAL_MIN = 512 * 1024
_IN_FLIGHT = 2
#: a batch for a helper: enough files that handing it over costs little, few enough bytes to hold
_BATCH_FILES = 256
_BATCH_BYTES = 4 << 20


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
    def _read_once(self, path: bytes, progress: Meter) -> tuple[bytes, int]:
        """The file's record and the bytes read."""
        fd = open_file(path)
        futures: deque[Future] = deque()
        read = 0
        try:
            before = regular(fd)
            ids: list[bytes] = []
            chunker = self._chunker()
            if before.st_size < chunker.min_size:  # one chunk at most (a home's most files): one read
                data = read_small(fd, before.st_size)
                if data:
                    self._store_chunk(data, ids, futures, progress)
                read = len(data)
            else:
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
        try:
            return file_record(path, before, after, read, ids, meta), read
        except FileChanged:
            progress.add(-read)
            raise

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
                record, read = self._read_once(file.path, progress)
                self._done(file, record, read)
                break
            except FileChanged as e:
                if attempt == 2:
                    self.report(FileSkipped(name, f"{e}; it will be backed up next time", warning=True))
            except Vanished:
                self.report(FileSkipped(name, "it was deleted before it could be read", warning=True))
                break
            except OSError as e:
                self.report(FileSkipped(name, f"cannot read it ({e.strerror})", warning=True))
                break
        if file.no in self.fetch and not platform().evict(file.path):  # read or not, its space goes back
            log.info("%s stays downloaded: the system did not take its space back", name)
        progress.add(0, files=1)

    def _done(self, file: ToRead, record: bytes, read: int) -> None:
        """File `file` was read whole: its record to the work list, and counted."""
        self.work.done(file.no, record)
        with self._count_lock:
            self.bytes_read += read
            if file.cached is None:
                self.files_new += 1
            elif filerecord.digest(record) == file.cached:
                self.files_same += 1  # read again to be sure (it changed just before the run), and the same
            else:
                self.files_changed += 1
            if file.no in self.fetch:
                self.fetched += 1

    def _take(self, files: list[ToRead], outcomes: list[Outcome], progress: Meter) -> None:
        """What a helper read of `files`: their new blobs into the store, their records to the work list."""
        store = self.store
        for file, outcome in zip(files, outcomes, strict=True):
            if outcome is None:  # not read whole and unchanged: read here, which says why when it fails again
                self.store_file(file, progress)
                continue
            record, blob_id, sealed, compression, read = outcome
            if read:
                if store.reserve(blob_id):
                    store.add(Sealed(blob_id, BlobType.DATA, compression, sealed, read))
                else:
                    with self._count_lock:
                        self.bytes_deduped += read
            self._done(file, record, read)
            progress.add(read, files=1)

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
        """One reading thread takes the files in the work list's order; with helpers, small files go
        to them in batches and the thread reads the others meanwhile. The first error stops it."""
        errors: list[BaseException] = []
        helpers = self._helpers()

        def worker() -> None:
            platform().throttle_disk_io()  # the computer stays responsive while a backup reads
            try:
                self._read_in_order(progress, helpers, errors)
            except BaseException as e:  # noqa: BLE001 - re-raised on the run's thread
                errors.append(e)

        thread = threading.Thread(target=worker, name="backbeat-read")
        thread.start()
        try:
            thread.join()
        except BaseException as e:  # Ctrl-C: the thread stops after the file (or the batch) it is reading
            errors.append(e)
            raise
        finally:
            if helpers is not None:
                thread.join()
                helpers.close()
        if errors:
            raise errors[0]
        self.work.flush()

    def _helpers(self) -> Helpers | None:
        """Helper processes for a run with many files to read; none when they cannot start (the
        run reads on without them)."""
        count = helper_count(len(self.work))
        if not count:
            return None
        try:
            helpers = Helpers(self.store.key, count)
        except OSError as e:  # a process limit, no memory: slower, not worse
            log.warning("no helper process could start (%s): the backup reads the small files itself", e)
            return None
        log.info("%d helper processes read the small files", count)
        return helpers

    def _read_in_order(self, progress: Meter, helpers: Helpers | None, errors: list[BaseException]) -> None:
        """With helpers, each has one batch at a time: the one whose batch is the oldest gets the
        next as soon as it hands its outcomes back, before they are taken (a helper never waits
        to send while the thread waits to send to it, however small the pipe: 8 KiB on a Mac)."""
        limit = self._chunker().min_size
        handed: deque[tuple[list[ToRead], int | None]] = deque()
        batch: list[ToRead] = []
        batch_bytes = 0
        for file in self.work.order():
            if errors:
                return
            self.session.stop.check()  # between files: what was read is in the outbox
            if helpers is not None and not helpers.broken and file.size < limit and file.no not in self.fetch:
                batch.append(file)
                batch_bytes += file.size
                if len(batch) >= _BATCH_FILES or batch_bytes >= _BATCH_BYTES:
                    done = handed.popleft() if len(handed) >= helpers.count else None
                    outcomes = helpers.outcomes(done[1], len(done[0])) if done is not None else []
                    handed.append((batch, helpers.read([f.path for f in batch], limit)))
                    batch, batch_bytes = [], 0
                    if done is not None:
                        self._take(done[0], outcomes, progress)
            else:
                self.store_file(file, progress)
        for file in batch:  # the last few: not worth a hand-over
            self.store_file(file, progress)
        while handed:
            self.session.stop.check()
            files, ticket = handed.popleft()
            self._take(files, helpers.outcomes(ticket, len(files)), progress)

    def close(self) -> None:
        self.seal_pool.shutdown()
