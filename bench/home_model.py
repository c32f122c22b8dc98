#!/usr/bin/env python3
"""The story's home on paper and in a run: a first and a no-change backup of 500 GB in 1,000,000
files, modelled from measured per-file and per-byte costs, and one run of `--files` files and
`--gb` GB that checks the model.

    python bench/home_model.py [--files 1000000] [--gb 20] [--calibrate-files 100000] [--repeat 3]

Every backup goes to a fresh local encrypted repository, run as a user runs it (`python -m engine
backup`); wall time, CPU and peak RSS come from wait4 (bench/compare_restic.py's `run`).
1. **Calibration**, medians of `--repeat` runs: a backup of one small file (what any run costs:
   start, key derivation, snapshot), of `--calibrate-files` small files, and of two files of 1
   GiB; then a no-change backup of each. A first backup is modelled as `start + files x per_file + bytes x
   per_byte` (the two unknowns from the two first backups), a no-change one as `start + files x
   per_unchanged_file`. Large files cost the slower of two per-byte figures: the engine's own
   (the two 1 GiB files, read from and written to the page cache) and the disk's, a copy of a
   file past the page cache (read with its pages dropped, written in packs' pieces, each
   fsynced), as a backup to a drive beside the files reads and writes each byte.
2. **The run**: `--files` files, of which `--gb` GB less the small files' bytes are in files of
   1 GiB and the rest are small files (100 B to 8 KiB, in folders of 500): its first and no-change
   backups, measured against the model's figures for it.
3. **The story's home**, from the model: 500 GB in 1,000,000 files. Its index, from the blobs of
   the run (one a small file, and one a chunk of a large one) and the bytes a blob of the saved
   index the run left.
Contents are random (nothing compresses or deduplicates), from a seeded BLAKE3 stream. The run
needs about twice `--gb` of free disk (the files and the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, NamedTuple

import blake3

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.compare_restic import run, tools_env  # noqa: E402
from bench.scale import make_tree  # noqa: E402

_PER_FOLDER = 500
_BIG = 1 << 30
_SMALL_MEAN = (100 + 8192) // 2  # bytes: a small file's mean size
_PIECE = 1 << 26  # a big file is written this much at a time
_HOME_FILES, _HOME_BYTES = 1_000_000, 500e9


class Files(NamedTuple):
    count: int
    bytes: int


def small_files(root: Path, count: int, seed: int) -> Files:
    """`count` files of 100 B to 8 KiB (`_SMALL_MEAN` on average), in folders of 500 (as a home's
    documents and mail are)."""
    return Files(count, make_tree(root, count, _PER_FOLDER, seed, largest=8192))


def write_random(f: BinaryIO, seed: bytes, size: int) -> None:
    """`size` bytes of `seed`'s BLAKE3 stream (nothing compresses or deduplicates), `_PIECE` at a time."""
    stream = blake3.blake3(seed)
    for at in range(0, size, _PIECE):
        f.write(stream.digest(length=_PIECE, seek=at))


def big_files(root: Path, count: int, seed: bytes) -> Files:
    """`count` files of 1 GiB (videos, disk images), each its own stream."""
    (root / "videos").mkdir(parents=True, exist_ok=True)
    for n in range(count):
        with open(root / "videos" / f"clip{n:03d}.mov", "wb") as f:
            write_random(f, seed + n.to_bytes(4, "little"), _BIG)
    return Files(count, count * _BIG)


def disk_copy_speed(folder: Path, size: int = 2 * _BIG, piece: int = 8 << 20) -> float | None:
    """Bytes/s of a copy on the disk under `folder` that the page cache does not help: a file written
    and flushed, its cached pages dropped, then read and written again in `piece`s (a pack's size),
    each fsynced as the backup's packs are. None where pages cannot be dropped (not Linux)."""
    if not hasattr(os, "posix_fadvise"):
        return None
    src, dst = folder / "disk-src", folder / "disk-dst"
    with open(src, "wb") as f:
        write_random(f, b"disk", size)
        f.flush()
        os.fdatasync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    try:
        t0 = time.perf_counter()
        with open(src, "rb", buffering=0) as r, open(dst, "wb", buffering=0) as w:
            while block := r.read(piece):
                w.write(block)
                os.fdatasync(w.fileno())
        return size / (time.perf_counter() - t0)
    finally:
        src.unlink()
        dst.unlink(missing_ok=True)


class Backbeat:
    """Backbeat as a user runs it, against fresh repositories under `work`."""

    def __init__(self, work: Path) -> None:
        self.work, self.runs = work, 0

    def fresh(self) -> tuple[list[str], dict[str, str], Path]:
        """A new repository and home (the last ones go: the disk holds one run's at a time): its
        backup command's start, its environment, its repository."""
        for old in (self.work / f"repo{self.runs}", self.work / f"home{self.runs}"):
            shutil.rmtree(old, ignore_errors=True)
        self.runs += 1
        repo, home = self.work / f"repo{self.runs}", self.work / f"home{self.runs}"
        env = tools_env(home, self.work / "restic-cache") | {"PYTHONPATH": str(HERE.parent)}
        bb = [sys.executable, "-P", "-m", "engine"]
        run([*bb, "init", "--repo", str(repo)], env)
        return [*bb, "backup", "--repo", str(repo), "-q"], env, repo

    def first_and_again(self, src: Path) -> tuple[tuple[float, float, int], tuple[float, float, int], int]:
        """(first backup, no-change backup) as (wall s, cpu s, peak RSS MiB), and the blobs stored."""
        backup, env, repo = self.fresh()
        first = run([*backup, str(src)], env)
        again = run([*backup, str(src)], env)
        snaps = subprocess.run(
            [*backup[:4], "snapshots", "--repo", str(repo), "--json"], env=env, capture_output=True, check=True
        )
        blobs = sum(s["summary"]["blobs_added"] for s in json.loads(snaps.stdout))
        return first, again, blobs

    def medians(self, src: Path, repeat: int) -> tuple[float, float]:
        """Median wall seconds of a first and of a no-change backup of `src`, each to a fresh repository."""
        runs = [self.first_and_again(src) for _ in range(repeat)]
        return statistics.median(r[0][0] for r in runs), statistics.median(r[1][0] for r in runs)

    def saved_index_bytes(self) -> int:
        """The size of the saved index the last run left: what its index holds, mapped."""
        return sum(p.stat().st_size for p in (self.work / f"home{self.runs}").rglob("*.index"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--gb", type=float, default=20)
    ap.add_argument("--calibrate-files", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each calibration; medians are used")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backbeat-home-"))
    bb = Backbeat(work)
    try:
        print(f"calibrating ({args.repeat} runs each): one file; small files; two files of 1 GiB", flush=True)
        small_files(work / "one", 1, args.seed)
        start, start_again = bb.medians(work / "one", args.repeat)
        cal = small_files(work / "small", args.calibrate_files, args.seed + 1)
        small, small_again = bb.medians(work / "small", args.repeat)
        shutil.rmtree(work / "small")
        cal_big = big_files(work / "big", 2, b"calibration")
        big, _ = bb.medians(work / "big", args.repeat)
        shutil.rmtree(work / "big")
        # start + files * per_file + bytes * per_byte, for the small files and the big ones
        det = cal.count * cal_big.bytes - cal_big.count * cal.bytes
        s1, s2 = small - start, big - start
        per_file = (s1 * cal_big.bytes - s2 * cal.bytes) / det
        per_byte = (cal.count * s2 - cal_big.count * s1) / det
        per_unchanged = (small_again - start_again) / cal.count
        disk = disk_copy_speed(work)
        print(
            f"start {start:.2f} s (no change {start_again:.2f} s); a file {per_file * 1e6:.0f} us first, "
            f"{per_unchanged * 1e6:.1f} us unchanged; {1e-6 / per_byte:.0f} MB/s of large files, "
            + (f"the disk copies {disk / 1e6:.0f} MB/s" if disk else "the disk's speed unknown (not Linux)")
        )
        per_byte = max(per_byte, 1 / disk) if disk else per_byte

        def first_model(files: Files) -> float:
            return start + files.count * per_file + files.bytes * per_byte

        def again_model(count: int) -> float:
            return start_again + count * per_unchanged

        print(f"the run: making {args.files} files of {args.gb:.0f} GB", flush=True)
        t0 = time.perf_counter()
        bigs = max(0, round((args.gb * 1e9 - args.files * _SMALL_MEAN) / _BIG))
        smalls = small_files(work / "src", args.files - bigs, args.seed + 2)
        large = big_files(work / "src", bigs, args.seed.to_bytes(4, "little"))
        data = Files(smalls.count + large.count, smalls.bytes + large.bytes)
        print(f"made in {time.perf_counter() - t0:.0f} s: {data.count} files, {data.bytes / 1e9:.1f} GB", flush=True)
        first, again, blobs = bb.first_and_again(work / "src")
        index_bytes = bb.saved_index_bytes()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'':28} {'measured s':>10} {'model s':>8} {'ratio':>6} {'cpu s':>7} {'peak RSS MiB':>13}")
    for name, got, model in (("first backup", first, first_model(data)), ("no-change", again, again_model(data.count))):
        print(f"{name:28} {got[0]:10.1f} {model:8.1f} {got[0] / model:6.2f} {got[1]:7.1f} {got[2]:13d}")
    per_blob = index_bytes / blobs
    chunk = large.bytes / max(1, blobs - smalls.count)  # the trees (one a folder) counted as chunks: more blobs
    home_blobs = _HOME_FILES + (_HOME_BYTES - _HOME_FILES * _SMALL_MEAN) / chunk
    home = Files(_HOME_FILES, int(_HOME_BYTES))
    print(
        f"the story's home, 500 GB in 1,000,000 files: first backup {first_model(home) / 3600:.1f} h "
        f"({1e-6 / per_byte:.0f} MB/s of large files), no change {again_model(home.count):.0f} s; "
        f"index {home_blobs / 1e6:.2f} M blobs x {per_blob:.0f} B = {home_blobs * per_blob / 2**20:.0f} MiB "
        f"(the run: {blobs} blobs, a chunk {chunk / 2**20:.2f} MiB, saved index {index_bytes / 2**20:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
