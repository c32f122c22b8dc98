#!/usr/bin/env python3
"""Continuous backup figures: change-to-protected latency, idle CPU, memory for a big tree.

    python bench/watch.py [--size-mb 1024] [--changes 20] [--idle 60] [--files 100000]

With the default settings (2 s quiet period, 60 s maximum wait, one snapshot kept per 5 min):
1. `backbeat watch` on the generated home tree, to a local repository; 20 times: a file is saved, and
   the time until `watch` reports a snapshot holding it is taken (p50, p95; target p95 <= 10 s);
2. the same process, idle for 60 s: its CPU as a share of one core (target < 1%);
3. `backbeat watch` on a tree of 100,000 files in 1,000 folders, idle after its first backup,
   beside the same on a tree of 10 files: the difference in resident memory (target <= +50 MiB).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.datasets import generate  # noqa: E402

BB = [sys.executable, "-m", "engine"]


class Watch:
    """`backbeat watch` in its own installation; its snapshot lines are timestamped as they arrive."""

    def __init__(self, work: Path, name: str, src: Path) -> None:
        self.env = {**os.environ, "BACKBEAT_HOME": str(work / f"home-{name}"), "BACKBEAT_PASSWORD": "bench"}
        subprocess.run([*BB, "init", "-q"], env=self.env, check=True, capture_output=True, cwd=HERE.parent)
        self.proc = subprocess.Popen(
            [*BB, "watch", "-q", str(src)], env=self.env, stdout=subprocess.PIPE, text=True, cwd=HERE.parent
        )
        self.snapshots: list[float] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if " snapshot " in line:
                self.snapshots.append(time.monotonic())

    def wait_snapshots(self, n: int, timeout: float = 600) -> float:
        deadline = time.monotonic() + timeout
        while len(self.snapshots) < n:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("watch did not report a snapshot")
            time.sleep(0.01)
        return self.snapshots[n - 1]

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in [psutil.Process(self.proc.pid)])

    def cpu(self) -> float:
        t = psutil.Process(self.proc.pid).cpu_times()
        return t.user + t.system

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def latency(watch: Watch, src: Path, changes: int, rnd: random.Random) -> list[float]:
    files = [p for p in src.rglob("*") if p.is_file() and p.suffix in (".txt", ".md", ".py", ".csv")]
    out = []
    for i in range(changes):
        time.sleep(rnd.uniform(0.5, 3.0))  # someone working: saves at irregular moments
        seen = len(watch.snapshots)
        with open(rnd.choice(files), "a") as f:
            f.write(f"edit {i}\n")
        saved = time.monotonic()
        out.append(watch.wait_snapshots(seen + 1) - saved)
    return out


def big_tree(root: Path, files: int) -> Path:
    per = max(1, files // 1000)
    for d in range(files // per):
        folder = root / f"d{d // 100:02d}" / f"f{d:04d}"
        folder.mkdir(parents=True)
        for i in range(per):
            (folder / f"n{i:03d}.txt").write_text(f"{d}-{i}\n")
    return root


def idle_rss(work: Path, name: str, src: Path) -> int:
    w = Watch(work, name, src)
    w.wait_snapshots(1)
    time.sleep(5)
    rss = w.rss()
    w.stop()
    return rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument("--files", type=int, default=100_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backbeat-watch-"))
    try:
        src = generate(work / "src", args.size_mb, 1)
        watch = Watch(work, "latency", src)
        watch.wait_snapshots(1)  # the first (full) backup
        lat = latency(watch, src, args.changes, random.Random(3))
        cpu0, t0 = watch.cpu(), time.monotonic()
        time.sleep(args.idle)
        idle_cpu = (watch.cpu() - cpu0) / (time.monotonic() - t0)
        watch.stop()
        small = work / "small"
        small.mkdir()
        for i in range(10):
            (small / f"{i}.txt").write_text(str(i))
        rss_small = idle_rss(work, "small", small)
        rss_big = idle_rss(work, "big", big_tree(work / "big", args.files))
        q = statistics.quantiles(lat, n=20, method="inclusive")
        print(
            json.dumps(
                {
                    "dataset_mb": args.size_mb,
                    "changes": len(lat),
                    "latency_p50_s": round(statistics.median(lat), 2),
                    "latency_p95_s": round(q[18], 2),
                    "latency_max_s": round(max(lat), 2),
                    "idle_seconds": args.idle,
                    "idle_cpu_percent_of_core": round(100 * idle_cpu, 3),
                    "files_watched": args.files,
                    "rss_small_mib": round(rss_small / 2**20, 1),
                    "rss_big_mib": round(rss_big / 2**20, 1),
                    "rss_extra_mib": round((rss_big - rss_small) / 2**20, 1),
                    "targets": "latency_p95_s <= 10, idle_cpu < 1%, rss_extra <= 50 MiB",
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
