#!/usr/bin/env python3
"""Memory of the in-memory index (blob id -> pack, offset, length) per blob, as loaded and once
the app has packed it, and what each comes to for a home of a given size.

    python bench/index_memory.py [--blobs 1000000] [--home-gb 500] [--files 1000000]

Fills an `engine.repo.index.Index` with `--blobs` random blob ids in packs of 500 (as loading a
repository's index files does) and prints the process's resident memory it added, per blob; then
packs it (`Index.compact`, what the app does when idle) and prints it again, with the time the
packing took and a lookup's, found and not found, before and after. A
home's blob count is modelled as one blob per file (most files are smaller than a chunk) plus
one per average chunk (1 MiB) of the rest: the story's user, 500 GB in 1,000,000 files.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.base.memory import release_memory  # noqa: E402
from engine.repo.blob import BlobType, Compression  # noqa: E402
from engine.repo.index import Index, PackInfo, index_plain  # noqa: E402
from engine.repo.pack import PackEntry  # noqa: E402

_PER_PACK = 500
_PACKS_PER_FILE = 100
_CHUNK = 1 << 20  # the repository's average chunk
_SMALL_FILE = 50_000  # bytes: a home's typical small file (documents, sidecars, mail)


def _pack() -> PackInfo:
    entries = [
        PackEntry(os.urandom(32), BlobType.DATA, Compression.ZSTD, i * 4096, 4096, 4096) for i in range(_PER_PACK)
    ]
    return PackInfo(os.urandom(32), _PER_PACK * 4096 + 1024, entries)


def index_files(blobs: int) -> Iterator[list[PackInfo]]:
    """The packs of a repository of `blobs` random blobs, 500 to a pack, 100 packs to an index file."""
    for _ in range(max(1, blobs // _PER_PACK // _PACKS_PER_FILE)):
        yield [_pack() for _ in range(_PACKS_PER_FILE)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blobs", type=int, default=1_000_000)
    ap.add_argument("--home-gb", type=float, default=500)
    ap.add_argument("--files", type=int, default=1_000_000)
    args = ap.parse_args()
    me = psutil.Process()
    before, plains, found = me.memory_info().rss, [], []
    for packs in index_files(args.blobs):
        for pack in packs:
            found += [e.blob_id[:16] + e.blob_id[16:] for e in pack.entries[:10]]  # copies, made before the index
        plains.append(index_plain(packs))  # an index file's body, as the local cache keeps it
    missing = [os.urandom(32) for _ in range(len(found))]
    index = Index()
    index.add_plain(*plains)
    del plains
    release_memory()  # the bodies, read and parsed
    loaded = (me.memory_info().rss - before) / len(index)
    lookups = _lookups(index, found, missing)
    t0 = time.perf_counter()
    index.compact(at_least=1)
    took = time.perf_counter() - t0
    release_memory()
    packed = (me.memory_info().rss - before) / len(index)
    rest = max(0.0, args.home_gb * 1e9 - args.files * _SMALL_FILE)
    blobs = args.files + rest / _CHUNK
    print(f"a home of {args.home_gb:.0f} GB in {args.files} files: about {blobs / 1e6:.2f} M blobs")
    for name, per_blob, (hit, miss) in (
        ("as loaded (a dict)", loaded, lookups),
        (f"packed (in {took:.1f} s)", packed, _lookups(index, found, missing)),
    ):
        print(
            f"{len(index)} blobs {name}: {per_blob * len(index) / 2**20:.0f} MiB, {per_blob:.0f} B a blob; "
            f"lookup {hit:.2f} us found, {miss:.2f} us not; that home: {blobs * per_blob / 2**20:.0f} MiB of index"
        )


def _lookups(index: Index, found: list[bytes], missing: list[bytes]) -> tuple[float, float]:
    """Microseconds a lookup (`in`), of blobs it holds and of blobs it does not."""
    out = []
    for ids in (found, missing):
        t0 = time.perf_counter()
        for blob_id in ids:
            blob_id in index  # noqa: B015 - the lookup is what is timed
        out.append((time.perf_counter() - t0) / len(ids) * 1e6)
    return out[0], out[1]


if __name__ == "__main__":
    main()
