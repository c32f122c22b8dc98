"""The index's packed table: blob ids and their locations in two flat byte strings, sorted by id.

A dict of bytes costs about 187 bytes a blob (two objects and a slot): the story's home, 1.4
million blobs, would hold 255 MiB of it for as long as the app runs. Here a blob costs its
32-byte id, its location and about a byte of directory. A lookup goes to the id's bucket (by the
id's first bits: ids are keyed hashes, so buckets are even, a few ids each) and searches it with
one `bytes.find`, in C: about 0.5-0.9 us, against a dict's 0.1-0.2. The table is rebuilt, not
changed, except for `gone`: the ids dropped since it was built (`merged` leaves them out).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from itertools import accumulate

__all__ = ["BlobTable"]

_ID = 32
#: ids per bucket on average: few enough for one short search, many enough for a small directory
_PER_BUCKET = 8


class BlobTable:
    """Sorted ids and their fixed-size locations. Read by any thread; `gone` changed under the
    index's lock, and read before a rebuilt table replaces this one."""

    __slots__ = ("ids", "locs", "size", "directory", "shift", "gone")

    def __init__(self, ids: bytes, locs: bytes, size: int) -> None:
        """`ids`: sorted, 32 bytes each; `locs`: `size` bytes each, in the same order."""
        self.ids, self.locs, self.size = ids, locs, size
        bits = max(8, min(24, (len(ids) // _ID // _PER_BUCKET).bit_length()))
        self.shift = shift = 24 - bits
        counts = array("I", bytes(4 * ((1 << bits) + 1)))
        for j in range(0, len(ids), _ID):
            counts[((ids[j] << 16 | ids[j + 1] << 8 | ids[j + 2]) >> shift) + 1] += 1
        #: bucket -> the position of its first id (and, one further, of the next bucket's)
        self.directory = array("I", accumulate(counts))
        self.gone: set[bytes] = set()

    def __len__(self) -> int:
        """Every id it holds, gone ones included."""
        return len(self.ids) // _ID

    def _bucket(self, blob_id: bytes) -> tuple[int, int]:
        b = (blob_id[0] << 16 | blob_id[1] << 8 | blob_id[2]) >> self.shift
        return self.directory[b], self.directory[b + 1]

    def find(self, blob_id: bytes) -> int:
        """The id's position, or -1. Gone ones are found too: the caller asks `gone`."""
        lo, hi = self._bucket(blob_id)
        end = hi * _ID
        pos = self.ids.find(blob_id, lo * _ID, end)
        while pos > 0 and pos % _ID:  # a match across two ids is no match
            pos = self.ids.find(blob_id, pos + 1, end)
        return -1 if pos < 0 else pos // _ID

    def location(self, i: int) -> bytes:
        return self.locs[i * self.size : (i + 1) * self.size]

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """(id, location) of every blob not gone, in id order."""
        ids, locs, size, gone = self.ids, self.locs, self.size, self.gone
        for i in range(len(self)):
            blob_id = ids[i * _ID : (i + 1) * _ID]
            if blob_id not in gone:
                yield blob_id, locs[i * size : (i + 1) * size]

    def _insertion(self, blob_id: bytes) -> int:
        """Where `blob_id` goes among the ids (before the first greater one)."""
        lo, hi = self._bucket(blob_id)
        ids = self.ids
        while lo < hi and ids[lo * _ID : (lo + 1) * _ID] < blob_id:
            lo += 1
        return lo

    def merged(self, added: dict[bytes, bytes]) -> BlobTable:
        """A new table: this one's ids but the gone ones, and `added` (none of which is here and
        not gone). The runs between changes are copied whole: the cost is sorting the added ids,
        plus one pass over all ids for the directory."""
        adds = sorted(added.items())
        if not len(self):
            return BlobTable(b"".join([b for b, _ in adds]), b"".join([loc for _, loc in adds]), self.size)
        removals = sorted(at for b in self.gone if (at := self.find(b)) >= 0)
        ids, locs, size = memoryview(self.ids), memoryview(self.locs), self.size
        id_parts: list[bytes | memoryview] = []
        loc_parts: list[bytes | memoryview] = []
        start = 0

        def copy_to(at: int) -> None:
            id_parts.append(ids[start * _ID : at * _ID])
            loc_parts.append(locs[start * size : at * size])

        r = 0
        for blob_id, loc in adds:  # insertion points rise with the ids
            at = self._insertion(blob_id)
            while r < len(removals) and removals[r] < at:  # at one place, the insertion comes first
                copy_to(removals[r])
                start = removals[r] + 1
                r += 1
            copy_to(at)
            id_parts.append(blob_id)
            loc_parts.append(loc)
            start = at
        for at in removals[r:]:
            copy_to(at)
            start = at + 1
        copy_to(len(self))
        return BlobTable(b"".join(id_parts), b"".join(loc_parts), size)
