#!/usr/bin/env python3
"""Memory of the in-memory index (blob id -> pack, offset, length) per blob, and what it comes to
for a home of a given size.

    python bench/index_memory.py [--blobs 1000000] [--home-gb 500] [--files 1000000]

Fills an `engine.repo.index.Index` with `--blobs` random blob ids in packs of 500 (as loading a
repository's index files does) and prints the process's resident memory it added, per blob. A
home's blob count is modelled as one blob per file (most files are smaller than a chunk) plus
one per average chunk (1 MiB) of the rest: the story's user, 500 GB in 1,000,000 files.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.repo.blob import BlobType, Compression  # noqa: E402
from engine.repo.index import Index, PackInfo  # noqa: E402
from engine.repo.pack import PackEntry  # noqa: E402

_PER_PACK = 500
_CHUNK = 1 << 20  # the repository's average chunk
_SMALL_FILE = 50_000  # bytes: a home's typical small file (documents, sidecars, mail)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blobs", type=int, default=1_000_000)
    ap.add_argument("--home-gb", type=float, default=500)
    ap.add_argument("--files", type=int, default=1_000_000)
    args = ap.parse_args()
    me = psutil.Process()
    index, before = Index(), me.memory_info().rss
    for _ in range(args.blobs // _PER_PACK):
        entries = [
            PackEntry(os.urandom(32), BlobType.DATA, Compression.ZSTD, i * 4096, 4096, 4096) for i in range(_PER_PACK)
        ]
        index.add_pack(PackInfo(os.urandom(32), _PER_PACK * 4096, entries), pending=False)
    per_blob = (me.memory_info().rss - before) / len(index)
    print(f"{len(index)} blobs: {per_blob * len(index) / 2**20:.0f} MiB, {per_blob:.0f} B a blob")
    rest = max(0.0, args.home_gb * 1e9 - args.files * _SMALL_FILE)
    blobs = args.files + rest / _CHUNK
    print(
        f"a home of {args.home_gb:.0f} GB in {args.files} files: about {blobs / 1e6:.2f} M blobs, "
        f"{blobs * per_blob / 2**20:.0f} MiB of index (target for the menu-bar process at idle: < 150 MiB in all)"
    )


if __name__ == "__main__":
    main()
