"""Content-defined chunking with FastCDC (pyfastcdc's compiled module, which releases the GIL).

Cut points depend on content, so an insertion early in a file moves only the chunks around it
and the rest dedups. pyfastcdc silently falls back to a pure-Python implementation about 400x
slower; that fallback is refused here, loudly. Files are read through one buffer per chunker
(twice the largest chunk), reused for every file: no per-file allocation, so no page faults on
fresh memory for every gigabyte read, and memory stays flat whatever the file size. FastCDC's
cut decisions depend only on the bytes from a chunk's start, so every chunk but the last of a
buffer is final; that last one is carried over to the next fill.
The only importer of `pyfastcdc`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from engine.base.errors import ChunkerUnavailable

try:
    from pyfastcdc.cy import FastCDC as _FastCDC
except ImportError as e:  # pragma: no cover - depends on the platform's wheel
    _FastCDC = None
    _IMPORT_ERROR: ImportError | None = e
else:
    _IMPORT_ERROR = None

__all__ = ["Chunker"]


class Chunker:
    """One per thread (pyfastcdc's chunker objects and the read buffer are not safe to share)."""

    def __init__(self, min_size: int, avg_size: int, max_size: int, seed: int = 0) -> None:
        if _FastCDC is None:
            raise ChunkerUnavailable(str(_IMPORT_ERROR))
        self.min_size = min_size
        self.max_size = max_size
        self._cdc = _FastCDC(avg_size, min_size=min_size, max_size=max_size, normalized_chunking=1, seed=seed)
        self._buf: bytearray | None = None

    def cut(self, data: bytes | memoryview) -> Iterator[memoryview]:
        if len(data) <= self.min_size:
            yield memoryview(data)
            return
        for chunk in self._cdc.cut_buf(data):
            yield chunk.data

    def cut_file(self, f: BinaryIO) -> Iterator[memoryview]:
        """Chunks of an open file. Each chunk's view is valid only until the next one is asked for."""
        if self._buf is None:
            self._buf = bytearray(2 * self.max_size)
        view = memoryview(self._buf)
        filled, eof = 0, False
        while not eof:
            while filled < len(view):
                n = f.readinto(view[filled:])
                if not n:
                    eof = True
                    break
                filled += n
            if not filled:
                return
            start = 0
            for chunk in self.cut(view[:filled]):
                if not eof and start + len(chunk) == filled:
                    break  # cut by the buffer's end, not by content: carry it over
                yield chunk
                start += len(chunk)
            view[: filled - start] = view[start:filled]
            filled -= start
