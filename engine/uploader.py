"""The outbox: where packs are written as they fill, and the thread that moves them to the destination.

A pack is written straight into a file in this machine's outbox folder (no pack is held in
memory), fsynced when finished, renamed to its id, and journaled in the local state before it
is handed to one writer thread through a small bounded queue. When the destination is slower
than the pipeline the queue fills and the pipeline waits (backpressure), so the outbox stays
small. Only once the destination holds the whole pack does the blob store learn its blobs.
After a crash, a journaled pack still in the outbox is delivered by the next run; one already
at the destination is recovered from its own header (see engine.session).
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
from engine.repo.pack import PackEntry
from engine.state import State

__all__ = ["Uploader", "outbox_path"]

_STOP = object()


def outbox_path(folder: Path, pack_id: bytes) -> Path:
    return folder / f"{pack_id.hex()}.pack"


class Uploader:
    def __init__(
        self,
        backend: Backend,
        state: State,
        folder: Path,
        on_stored: Callable[[bytes, list[PackEntry]], None],
        depth: int = 2,
    ) -> None:
        self.backend = backend
        self.state = state
        self.folder = folder
        self.on_stored = on_stored
        self.packs_written = 0
        self.bytes_written = 0
        folder.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="backbeat-uploader", daemon=True)
        self._thread.start()

    # -- PackOutbox --------------------------------------------------------------------------
    def new_pack(self) -> BinaryIO:
        fd, name = tempfile.mkstemp(dir=self.folder, suffix=".part")
        os.close(fd)
        return open(name, "wb", buffering=0)  # noqa: SIM115 - closed by the writer thread

    def pack_finished(self, out: BinaryIO, pack_id: bytes, entries: list[PackEntry]) -> None:
        """Blocks while the queue is full; raises the writer's error if it has failed."""
        if self._error is not None:
            raise self._error
        self._queue.put((out, pack_id, entries))

    # -- the writer thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None:
                continue  # drain: the run has failed; what is in the outbox goes next time
            out, pack_id, entries = item
            try:
                path = self._seal(out, pack_id)
                size = path.stat().st_size
                self.backend.put_file(pack_name(pack_id), str(path))
                path.unlink(missing_ok=True)
                self.packs_written += 1
                self.bytes_written += size
                self.on_stored(pack_id, entries)
            except BaseException as e:  # noqa: BLE001 - handed to the pipeline's thread
                self._error = e

    def _seal(self, out: BinaryIO, pack_id: bytes) -> Path:
        """Make the finished pack durable under its own name, and journal it, before it travels."""
        os.fsync(out.fileno())
        out.close()
        path = outbox_path(self.folder, pack_id)
        os.replace(out.name, path)
        self.state.journal_pack(pack_id)
        return path

    def close(self) -> None:
        """Wait until every finished pack is at the destination; raise the first error."""
        self._queue.put(_STOP)
        self._thread.join()
        for leftover in self.folder.glob("*.part"):  # packs this run never finished
            leftover.unlink(missing_ok=True)
        if self._error is not None:
            raise self._error
