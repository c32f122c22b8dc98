#!/usr/bin/env python3
"""The in-memory index (blob id -> pack, offset, length) of a big home: its memory, the time to
load it and the peak while loading, the three ways a run can load it; and what each comes to for
a home of a given size.

    python bench/index_memory.py [--blobs 1000000] [--home-gb 500] [--files 1000000]

Caches index files naming `--blobs` random blob ids, in packs of 500 and 100 packs a file (as a
repository's are), in a local state, then loads them in a fresh process each way:
- **a dict**: the blobs added to an index that holds some already (what index files written since
  the saved index cost; before the saved index, how every run loaded);
- **built**: an empty index from the index files straight into its packed table (a run's first, or
  after a prune), which then saves it beside the state;
- **opened**: the saved table.
Each prints the seconds, the resident memory it added (per blob; how much is its own, and how much
is pages of the saved index mapped from its file, which lookups touched), the peak above the start while
loading, and a lookup's time (found, not found). A home's blob count is modelled as one blob per
file (most files are smaller than a chunk) plus one per average chunk (1 MiB) of the rest: the
story's user, 500 GB in 1,000,000 files.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.base.memory import release_memory  # noqa: E402
from engine.local.state import State  # noqa: E402
from engine.repo.blob import BlobType, Compression  # noqa: E402
from engine.repo.index import Index, PackInfo, index_plain  # noqa: E402
from engine.repo.pack import PackEntry  # noqa: E402

_PER_PACK = 500
_PACKS_PER_FILE = 100
_CHUNK = 1 << 20  # the repository's average chunk
_SMALL_FILE = 50_000  # bytes: a home's typical small file (documents, sidecars, mail)
_KEY = bytes(32)  # the local state's record key


def _pack() -> PackInfo:
    entries = [
        PackEntry(os.urandom(32), BlobType.DATA, Compression.ZSTD, i * 4096, 4096, 4096) for i in range(_PER_PACK)
    ]
    return PackInfo(os.urandom(32), _PER_PACK * 4096 + 1024, entries)


def index_files(blobs: int) -> Iterator[list[PackInfo]]:
    """The packs of a repository of `blobs` random blobs, 500 to a pack, 100 packs to an index file."""
    for _ in range(max(1, blobs // _PER_PACK // _PACKS_PER_FILE)):
        yield [_pack() for _ in range(_PACKS_PER_FILE)]


_WAYS = {"dict": "a dict", "built": "built (into the table)", "opened": "opened (the saved table)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blobs", type=int, default=1_000_000)
    ap.add_argument("--home-gb", type=float, default=500)
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--way", choices=_WAYS, help=argparse.SUPPRESS)  # one load, in this process
    ap.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.way:
        return _load(args.way, args.state)
    work = Path(tempfile.mkdtemp(prefix="backbeat-index-"))
    try:
        state = State(work / "state.sqlite", record_key=_KEY)
        for n, packs in enumerate(index_files(args.blobs)):
            state.cache_index_file(f"index/{n:06d}", index_plain(packs))
        state.close()
        rest = max(0.0, args.home_gb * 1e9 - args.files * _SMALL_FILE)
        blobs = args.files + rest / _CHUNK
        print(f"a home of {args.home_gb:.0f} GB in {args.files} files: about {blobs / 1e6:.2f} M blobs")
        for way, name in _WAYS.items():
            child = [sys.executable, __file__, "--way", way, "--state", str(work / "state.sqlite")]
            got = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
            per_blob, mapped = got["added"] / got["blobs"], got["added"] - got["own"]
            print(
                f"{got['blobs']} blobs, {name}: {got['seconds']:.2f} s, {got['added'] / 2**20:.0f} MiB "
                f"({per_blob:.0f} B a blob; {got['own'] / 2**20:.0f} MiB its own, {mapped / 2**20:.0f} MiB "
                f"mapped), peak +{got['peak'] / 2**20:.0f} MiB; lookup {got['hit']:.2f} us found, "
                f"{got['miss']:.2f} us not; that home: {blobs * per_blob / 2**20:.0f} MiB of index"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _load(way: str, path: Path) -> None:
    """One way of loading the cached index files, measured in this fresh process (printed as JSON)."""
    state, me = State(path, record_key=_KEY), psutil.Process()
    bodies = [index_plain([_pack()])] if way == "dict" else []
    if way == "built":
        path.with_suffix(".index").unlink(missing_ok=True)
    elif way == "opened" and not path.with_suffix(".index").exists():
        raise SystemExit("no saved index to open: the built one was not saved")
    release_memory()
    start, own_start, peak, done = me.memory_info().rss, _own(me), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], me.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.perf_counter()
    index = Index()
    if way == "dict":  # 500 blobs first: the index files then go to its dict
        index.add_plain(*bodies)
        index.add_plain(*state._index_bodies(state.loaded_index_files()).values())
    else:
        state.load_index(index)
    took = time.perf_counter() - t0
    done.set()
    sampler.join()
    release_memory()  # the bodies, read and parsed
    sample_ids = [blob_id for blob_id, _ in itertools.islice(index.entries(), 0, None, 97)][:20_000]
    found = [b[:16] + b[16:] for b in sample_ids]  # copies, as a backup's chunk ids are
    missing = [os.urandom(32) for _ in found]
    hit, miss = _lookups(index, found, missing)
    added, own = me.memory_info().rss - start, _own(me) - own_start
    got = dict(blobs=len(index), seconds=took, added=added, own=own, peak=peak[0] - start, hit=hit, miss=miss)
    print(json.dumps(got))


def _own(me: psutil.Process) -> int:
    """Resident memory that is the process's own: not pages of mapped files (the saved index's
    records, once lookups touched them), which the system drops and reads again at no cost."""
    info = me.memory_info()
    return info.rss - info.shared


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
