"""The outbox: the one path by which a job's packs, index files and snapshots reach a destination.

The order is the repository's promise, and it is kept here: a pack first, then the index file
naming it, then the snapshot naming both (`Outbox.send_index` and `Outbox.send_snapshot` wait for
every pack handed over so far), each index file and snapshot only while the job's lock holds.

A pack is written straight into a file in this machine's outbox folder (no pack is held in
memory), then handed to the writer threads (one for a disk, a few for a network destination)
through a small bounded queue; a writer fsyncs it, renames it to its id and journals it in the
local state before it travels. When the destination is slower than the pipeline the queue fills
and the pipeline waits (backpressure), so the outbox stays small. Only once the destination
holds the whole pack does the blob store learn its blobs. After a crash, a journaled pack still
in the outbox is delivered by the next run; one already at the destination is recovered from
its own header (`Outbox.deliver_journaled`, called when a job first writes: engine.jobs.session.recover).

Index files and snapshots need no journal: an index file is rebuilt from the journaled packs' own
headers, and a killed run's snapshot must never be sent late (a prune since may have removed what
it names); the next run makes a new one.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from engine.backends.base import Backend, pack_name
from engine.base.errors import IntegrityError
from engine.base.home import app_dir
from engine.local.state import State
from engine.repo.index import Index, PackInfo, index_plain
from engine.repo.pack import PackEntry, holds_pack
from engine.repo.repository import Repository
from engine.repo.snapshot import Snapshot, save_snapshot

__all__ = ["Outbox", "PackSender", "streams_for"]

_STOP = object()
#: one upload in flight per 4 MiB/s allowed: a single stream fills a slower line (a pack takes
#: seconds to send, the pause between two requests is one round trip)
_STREAM_RATE = 4 << 20
_PACK_BUFFER = 1 << 20


def streams_for(limit: float | None, most: int) -> int:
    """Uploads to run at once under `limit` (bytes/s, None unlimited): one fills a slow line, and
    an interruption then wastes one part-sent pack instead of `most`."""
    if limit is None:
        return most
    return max(1, min(most, int(limit // _STREAM_RATE) + 1))


def _outbox_folder(repo_id: str) -> Path:
    return app_dir() / "outbox" / repo_id


def _outbox_path(folder: Path, pack_id: bytes) -> Path:
    return folder / f"{pack_id.hex()}.pack"


class PackSender:
    """One job's packs on their way: written into the outbox folder, sent by writer threads."""

    def __init__(
        self,
        backend: Backend,
        state: State,
        folder: Path,
        on_stored: Callable[[PackInfo], None],
        threads: int = 1,
        concurrency: Callable[[], int] | None = None,
        on_closed: Callable[[PackSender], None] = lambda sender: None,
    ) -> None:
        self.backend = backend
        self.state = state
        self.folder = folder
        self.on_stored = on_stored
        self._on_closed = on_closed
        self.packs_written = 0
        self.bytes_written = 0
        folder.mkdir(parents=True, exist_ok=True)
        self._counts = threading.Lock()
        self._parts: set[str] = set()  # guarded by self._counts: this run's packs still being written
        #: a finished pack waits here for a free writer; the queue is as deep as there are writers
        self._queue: queue.Queue = queue.Queue(maxsize=threads)
        self._error: BaseException | None = None
        #: how many writers may send at once, asked before each pack (a slow line wants one: an
        #: interrupted upload then loses one part-sent pack, not four)
        self._concurrency = concurrency or (lambda: threads)
        self._sending = 0  # guarded by self._flow
        self._seq = 0  # guarded by self._flow: packs handed over so far
        self._unfinished: set[int] = set()  # guarded by self._flow
        self._at_gate: set[int] = set()  # guarded by self._flow: packs waiting for their turn to send
        self._tickets = 0  # guarded by self._flow
        self._waiting: set[int] = set()  # guarded by self._flow: callers waiting to hand a pack over
        self._flow = threading.Condition()
        self._threads = [
            threading.Thread(target=self._run, name=f"backbeat-uploader-{i}", daemon=True) for i in range(threads)
        ]
        for t in self._threads:
            t.start()

    # -- PackOutbox --------------------------------------------------------------------------
    def new_pack(self) -> BinaryIO:
        fd, name = tempfile.mkstemp(dir=self.folder, suffix=".part")
        os.close(fd)
        with self._counts:
            self._parts.add(name)
        # buffered: a small file's blob is a copy, not a write call made under the blob store's
        # lock (PackWriter.finish flushes before the writer thread fsyncs)
        return open(name, "wb", buffering=_PACK_BUFFER)  # noqa: SIM115 - closed by the writer thread

    def pack_finished(self, out: BinaryIO, pack_id: bytes, entries: list[PackEntry]) -> None:
        """Blocks while the queue is full; raises the writer's error if it has failed."""
        if self._error is not None:
            raise self._error
        with self._flow:  # at most two packs per allowed upload at once (one sending, one ready), first come first in
            self._tickets += 1
            ticket = self._tickets
            self._waiting.add(ticket)
            while self._error is None and (
                len(self._unfinished) >= 2 * max(1, self._concurrency()) or ticket != min(self._waiting)
            ):
                self._flow.wait(0.5)
            self._waiting.discard(ticket)
            self._seq += 1
            self._unfinished.add(self._seq)
            seq = self._seq
            self._flow.notify_all()
        self._queue.put((seq, out, pack_id, entries))

    def drain(self) -> None:
        """Wait until every pack handed over so far is at the destination (a checkpoint needs it)."""
        with self._flow:
            mark = self._seq
            self._flow.wait_for(lambda: self._error is not None or not any(s <= mark for s in self._unfinished))
        if self._error is not None:
            raise self._error

    # -- the writer thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            seq, out, pack_id, entries = item
            try:
                if self._error is None:
                    self._deliver(seq, out, pack_id, entries)
                else:
                    out.close()  # drain: the run has failed; what is in the outbox goes next time
            except BaseException as e:  # noqa: BLE001 - handed to the pipeline's thread
                self._error = e
            finally:
                with self._flow:
                    self._unfinished.discard(seq)
                    self._flow.notify_all()

    def _deliver(self, seq: int, out: BinaryIO, pack_id: bytes, entries: list[PackEntry]) -> None:
        path = self._seal(out, pack_id)
        size = path.stat().st_size
        with self._flow:  # in the order handed over: a checkpoint waits for the oldest packs
            self._at_gate.add(seq)
            while self._sending >= max(1, self._concurrency()) or seq != min(self._at_gate):
                self._flow.wait(0.5)  # the allowed number follows the rate in force
            self._at_gate.discard(seq)
            self._sending += 1
            self._flow.notify_all()
        try:
            self.backend.put_file(pack_name(pack_id), str(path))
        finally:
            with self._flow:
                self._sending -= 1
                self._flow.notify_all()
        path.unlink(missing_ok=True)
        with self._counts:
            self.packs_written += 1
            self.bytes_written += size
        self.state.record_held(self.backend.location, pack_id, size)
        self.on_stored(PackInfo(pack_id, size, entries))

    def _seal(self, out: BinaryIO, pack_id: bytes) -> Path:
        """Make the finished pack durable under its own name, and journal it, before it travels."""
        os.fsync(out.fileno())
        out.close()
        path = _outbox_path(self.folder, pack_id)
        os.replace(out.name, path)
        with self._counts:
            self._parts.discard(out.name)
        self.state.journal_pack(pack_id)
        return path

    def close(self) -> None:
        """Wait until every finished pack is at the destination; raise the first error."""
        for _ in self._threads:
            self._queue.put(_STOP)
        for t in self._threads:
            t.join()
        for leftover in self._parts:  # packs this run never finished (another run's are its own)
            Path(leftover).unlink(missing_ok=True)
        self._on_closed(self)
        if self._error is not None:
            raise self._error


class Outbox:
    """This computer's outbox for one repository, as a job writing to it sees it."""

    def __init__(self, repo: Repository, state: State, check_lock: Callable[[], None]) -> None:
        self.repo = repo
        self.state = state
        self.folder = _outbox_folder(repo.id)
        #: raises LockLost when the job's lock was broken: asked before each index file and snapshot
        self._check_lock = check_lock
        self._senders: set[PackSender] = set()  # open ones: drained before an index file is written

    def packs(
        self,
        on_stored: Callable[[PackInfo], None],
        threads: int = 1,
        concurrency: Callable[[], int] | None = None,
    ) -> PackSender:
        """A job's pack pipeline (close it when done); see PackSender."""
        sender = PackSender(
            self.repo.backend, self.state, self.folder, on_stored, threads, concurrency, self._senders.discard
        )
        self._senders.add(sender)
        return sender

    def drain(self) -> None:
        """Wait until every pack handed over so far is at the destination; raise a writer's error."""
        for sender in list(self._senders):
            sender.drain()

    def send_index(self, index: Index) -> str | None:
        """Once the packs are there: name `index`'s pending packs in an index file, cache it, and
        clear their journal rows. Returns its name (None when nothing was pending)."""
        self.drain()
        pending = index.take_pending()
        if not pending.pack_ids:
            return None
        try:
            self._check_lock()
            name = self.repo.write_index(pending.plain)
        except BaseException:
            index.return_pending(pending)
            raise
        self.state.cache_index_file(name, pending.plain)
        self.state.clear_journal(pending.pack_ids)
        index.files.add(name)
        return name

    def send_snapshot(self, snap: Snapshot, index: Index) -> str:
        """Write a snapshot record after the packs and the index file it needs; returns its id."""
        self.send_index(index)
        self._check_lock()
        return save_snapshot(self.repo.backend, self.repo.key, snap)

    def replace_index(
        self, kept: dict[str, list[PackInfo]], stays: list[PackInfo], drop: list[str]
    ) -> dict[str, list[PackInfo]]:
        """The one way the index is rewritten (prune, repair, reconcile), under the exclusive lock:
        one new index file naming `stays` is written first, then the index files in `drop` are
        deleted (a crash between leaves packs named twice, never none); the packs it names leave
        the journal. Returns the index files now at the destination and what each names."""
        self.drain()
        self._check_lock()
        now = dict(kept)
        if stays:
            now[self.repo.write_index(index_plain(stays))] = stays
        self.state.clear_journal(p.pack_id for p in stays)
        gone = sorted(n for n in drop if n not in now)
        # never read again here if the destination brings them back
        self.state.record_deleted_index_files(self.repo.backend.location, gone)
        self.repo.delete_index_files(gone)
        return now

    # -- after a killed run ----------------------------------------------------------------------
    def drop_parts(self) -> None:
        """Half-written packs: only when no run of this computer is alive (they are a killed run's)."""
        for part in self.folder.glob("*.part"):
            part.unlink(missing_ok=True)

    def deliver_journaled(self, index: Index) -> None:
        """A killed run's journaled packs: each one still in the outbox is delivered, each one at the
        destination is indexed again from its own header (pending, for the next index file); the
        journal keeps only those. Finished packs never journaled (killed in between) are deleted."""
        repo, state = self.repo, self.state
        gone = []
        journaled = state.journaled_packs()
        for pack_id in journaled:
            if not repo.has_pack(pack_id) and not self._deliver_left(pack_id):
                gone.append(pack_id)
                continue
            info = repo.pack_header(pack_id)
            state.record_held(repo.backend.location, pack_id, info.size)
            if all(e.blob_id in index for e in info.entries):
                gone.append(pack_id)  # already indexed before the crash
                continue
            index.add_pack(info, pending=True)
        state.clear_journal(gone)
        keep = {_outbox_path(self.folder, p) for p in journaled}
        for stray in self.folder.glob("*.pack"):
            if stray not in keep:
                stray.unlink(missing_ok=True)

    def _deliver_left(self, pack_id: bytes) -> bool:
        """Put a finished pack left in the outbox; False when it is not there whole."""
        path = _outbox_path(self.folder, pack_id)
        try:
            if not holds_pack(pack_id, path.read_bytes()):
                raise IntegrityError(f"outbox pack {pack_id.hex()[:16]} is damaged")
        except (FileNotFoundError, IntegrityError):
            path.unlink(missing_ok=True)
            return False
        self.repo.backend.put_file(pack_name(pack_id), str(path))
        path.unlink(missing_ok=True)
        return True
