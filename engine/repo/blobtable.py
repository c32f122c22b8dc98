"""The index's packed table: each blob one record, its id then its location, in one flat byte
string sorted by id.

A dict of bytes costs about 187 bytes a blob (two objects and a slot): the story's home, 1.4
million blobs, would hold 255 MiB of it for as long as the app runs. Here a blob costs its
32-byte id, its location and about a byte of directory. A lookup goes to the id's bucket (by the
id's first bits: ids are keyed hashes, so buckets are even, a few ids each) and searches it with
one `bytes.find`, in C: about 0.5-0.9 us, against a dict's 0.1-0.2. The table is rebuilt, not
changed, except for `gone`: the ids dropped since it was built (`merged` leaves them out). Its
bytes are all there is to it, so the local cache saves it whole, and maps it from there
(engine.local.savedindex).
"""

from __future__ import annotations

import io
import mmap
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate, compress, count, islice
from operator import itemgetter

__all__ = ["BlobTable", "Records"]

#: the records: in memory, or mapped from the saved index (engine.local.savedindex)
Records = bytes | mmap.mmap

_ID = 32
#: ids per bucket on average: few enough for one short search, many enough for a small directory
_PER_BUCKET = 8
_ID_OF = itemgetter(slice(_ID))


def _bits(blobs: int) -> int:
    """The directory's size: 2**bits buckets."""
    return max(8, min(24, (blobs // _PER_BUCKET).bit_length()))


class BlobTable:
    """Sorted records of an id and its fixed-size location. Read by any thread; `gone` changed
    under the index's lock, and read before a rebuilt table replaces this one."""

    __slots__ = ("records", "size", "stride", "directory", "shift", "gone")

    def __init__(self, records: Records, size: int, directory: array | None = None) -> None:
        """`records`: sorted by id, each an id and its `size`-byte location; `directory` (from
        `of_records`, or a saved table) spares a pass over every id."""
        self.records, self.size, self.stride = records, size, _ID + size
        bits = _bits(len(records) // self.stride)
        self.shift = shift = 24 - bits
        if directory is None:
            counts = array("I", bytes(4 * ((1 << bits) + 1)))
            for j in range(0, len(records), self.stride):
                counts[((records[j] << 16 | records[j + 1] << 8 | records[j + 2]) >> shift) + 1] += 1
            directory = array("I", accumulate(counts))
        if len(directory) != (1 << bits) + 1 or directory[-1] != len(self):
            raise ValueError("the directory does not fit the records")
        #: bucket -> the position of its first id (and, one further, of the next bucket's)
        self.directory = directory
        self.gone: set[bytes] = set()

    @classmethod
    def of_records(cls, records: list[bytes], size: int) -> tuple[BlobTable, list[tuple[bytes, bytes]]]:
        """A table of records (sorted here, in place), and the (id, location) of each repeat of an
        id it holds in another record: each id has one place here. No object per blob outlives
        this, and none is made but the records (the directory is found by bisection)."""
        records.sort()
        # record i repeats the id of record i - 1: found by comparisons in C, like the sort's
        again = set(compress(count(1), map(bytes.startswith, islice(records, 1, None), map(_ID_OF, records))))
        repeats = [(records[i][:_ID], records[i][_ID:]) for i in sorted(again) if records[i] != records[i - 1]]
        if again:
            records = [r for i, r in enumerate(records) if i not in again]
        shift = 24 - _bits(len(records))
        edges = ((b << shift).to_bytes(3, "big") for b in range(1 << (24 - shift)))
        directory = array("I", [bisect_left(records, edge) for edge in edges] + [len(records)])
        return cls(_joined(records), size, directory), repeats

    def __len__(self) -> int:
        """Every id it holds, gone ones included."""
        return len(self.records) // self.stride

    def _bucket(self, blob_id: bytes) -> tuple[int, int]:
        b = (blob_id[0] << 16 | blob_id[1] << 8 | blob_id[2]) >> self.shift
        return self.directory[b], self.directory[b + 1]

    def find(self, blob_id: bytes) -> int:
        """The id's position, or -1. Gone ones are found too: the caller asks `gone`."""
        lo, hi = self._bucket(blob_id)
        stride = self.stride
        end = hi * stride
        pos = self.records.find(blob_id, lo * stride, end)
        while pos > 0 and pos % stride:  # a match in a location, or across two records, is no match
            pos = self.records.find(blob_id, pos + 1, end)
        return -1 if pos < 0 else pos // stride

    def location(self, i: int) -> bytes:
        return self.records[i * self.stride + _ID : (i + 1) * self.stride]

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """(id, location) of every blob not gone, in id order."""
        records, stride, gone = self.records, self.stride, self.gone
        for at in range(0, len(records), stride):
            blob_id = records[at : at + _ID]
            if blob_id not in gone:
                yield blob_id, records[at + _ID : at + stride]

    def release_pages(self) -> None:
        """Records mapped from the saved index: their pages handed back to the system's file cache
        (Linux maps 64 KiB, or a whole large folio, around each page a lookup touches: the 204
        lookups of a small backup mapped 65 MiB). The next lookup reads its page in again from that
        cache, a minor fault."""
        if isinstance(self.records, mmap.mmap):
            self.records.madvise(mmap.MADV_DONTNEED)

    def _insertion(self, blob_id: bytes) -> int:
        """Where `blob_id` goes among the ids (before the first greater one)."""
        lo, hi = self._bucket(blob_id)
        records, stride = self.records, self.stride
        while lo < hi and records[lo * stride : lo * stride + _ID] < blob_id:
            lo += 1
        return lo

    def merged(self, added: dict[bytes, bytes]) -> BlobTable:
        """A new table: this one's ids but the gone ones, and `added` (none of which is here and
        not gone). The runs between changes are copied whole: the cost is sorting the added ids,
        plus one pass over all ids for the directory."""
        if not len(self):  # the records of `added` alone (each id once: no repeats)
            return BlobTable.of_records([b + loc for b, loc in added.items()], self.size)[0]
        adds = sorted(added.items())
        removals = sorted(at for b in self.gone if (at := self.find(b)) >= 0)
        records, stride = memoryview(self.records), self.stride
        parts: list[bytes | memoryview] = []
        start = 0

        def copy_to(at: int) -> None:
            parts.append(records[start * stride : at * stride])

        r = 0
        for blob_id, loc in adds:  # insertion points rise with the ids
            at = self._insertion(blob_id)
            while r < len(removals) and removals[r] < at:  # at one place, the insertion comes first
                copy_to(removals[r])
                start = removals[r] + 1
                r += 1
            copy_to(at)
            parts += (blob_id, loc)
            start = at
        for at in removals[r:]:
            copy_to(at)
            start = at + 1
        copy_to(len(self))
        return BlobTable(_joined(parts), self.size)


def _joined(parts: list[bytes] | list[bytes | memoryview]) -> bytes:
    """`b"".join(parts)`, a run at a time: `join` holds an 80-byte buffer view per part, which
    for the records of 1.4 million blobs is 110 MiB more at the peak."""
    out, step = io.BytesIO(), 1 << 16
    for i in range(0, len(parts), step):
        out.write(b"".join(parts[i : i + step]))
    return out.getvalue()  # the buffer itself, not a copy
