"""The path of sealed packs from the pipeline to the destination, in order, with backpressure.

Packs are journaled in the local state *before* they are written, then written by one writer
thread through a small bounded queue: when the destination is slower than the pipeline, the
queue fills and the pipeline waits, so memory stays flat. Only once the destination has the
whole pack does the blob store learn its blobs. A pack journaled but never written is dropped
at the next start; one written but not yet indexed is recovered from its own header.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from engine.backends.base import Backend, pack_name
from engine.repo.pack import PackEntry
from engine.state import State

__all__ = ["Uploader"]

_STOP = object()


class Uploader:
    def __init__(
        self,
        backend: Backend,
        state: State,
        on_stored: Callable[[bytes, list[PackEntry]], None],
        depth: int = 2,
    ) -> None:
        self.backend = backend
        self.state = state
        self.on_stored = on_stored
        self.packs_written = 0
        self.bytes_written = 0
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="backbeat-uploader", daemon=True)
        self._thread.start()

    def submit(self, pack_id: bytes, data: bytes, entries: list[PackEntry]) -> None:
        """Blocks while the queue is full; raises the writer's error if it has failed."""
        if self._error is not None:
            raise self._error
        self.state.journal_pack(pack_id)
        self._queue.put((pack_id, data, entries))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None:
                continue  # drain: the run has failed, nothing more is written
            pack_id, data, entries = item
            try:
                self.backend.put(pack_name(pack_id), data)
                self.packs_written += 1
                self.bytes_written += len(data)
                self.on_stored(pack_id, entries)
            except BaseException as e:  # noqa: BLE001 - handed to the pipeline's thread
                self._error = e

    def close(self) -> None:
        """Wait until every submitted pack is written; raise the first error."""
        self._queue.put(_STOP)
        self._thread.join()
        if self._error is not None:
            raise self._error
