"""Content-defined chunking with FastCDC (pyfastcdc's compiled module, which releases the GIL).

Cut points depend on content, so an insertion early in a file moves only the chunks around it
and the rest dedups. pyfastcdc silently falls back to a pure-Python implementation about 400x
slower; that fallback is refused here, loudly. Small files are read whole and cut in memory;
large ones stream through a bounded buffer, so memory stays flat whatever the file size.
The only importer of `pyfastcdc`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from engine.errors import ChunkerUnavailable

try:
    from pyfastcdc.cy import FastCDC as _FastCDC
except ImportError as e:  # pragma: no cover - depends on the platform's wheel
    _FastCDC = None
    _IMPORT_ERROR: ImportError | None = e
else:
    _IMPORT_ERROR = None

__all__ = ["Chunker", "WHOLE_READ_LIMIT"]

#: files up to this size are read in one call and cut in memory.
WHOLE_READ_LIMIT = 16 * 1024 * 1024


class Chunker:
    """One per thread (pyfastcdc's chunker objects are not safe to share)."""

    def __init__(self, min_size: int, avg_size: int, max_size: int, seed: int = 0) -> None:
        if _FastCDC is None:
            raise ChunkerUnavailable(str(_IMPORT_ERROR))
        self.min_size = min_size
        self._cdc = _FastCDC(avg_size, min_size=min_size, max_size=max_size, normalized_chunking=1, seed=seed)

    def cut(self, data: bytes | memoryview) -> Iterator[memoryview]:
        if len(data) <= self.min_size:
            yield memoryview(data)
            return
        for chunk in self._cdc.cut_buf(data):
            yield chunk.data

    def cut_file(self, f: BinaryIO, size: int) -> Iterator[memoryview]:
        """Chunks of an open file. A streamed chunk's view is only valid until the next one."""
        if size <= WHOLE_READ_LIMIT:
            yield from self.cut(f.read())
            return
        for chunk in self._cdc.cut_stream(f):
            yield chunk.data
