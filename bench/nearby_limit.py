#!/usr/bin/env python3
"""A destination on the local network with the default upload setting ("Keep my internet usable",
automatic) beside the same backup with `limit off`: the automatic limit must not slow it.

    python bench/nearby_limit.py [--size-mb 512] [--seed 1] [--repeat 3]

Backs up one dataset to `rclone serve s3` on the loopback (the local network at its fastest),
alternating the two settings with fresh repositories and BACKBEAT_HOMEs; prints MiB/s for both
(median and each run) and the ratio of their median times against the speed issue's target
(default within 10% of `limit off`).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.s3_vs_local import loopback_bench, timed_backup  # noqa: E402


def main() -> None:
    args, work, src, size_mib, server, env = loopback_bench(__doc__.splitlines()[0], 512)
    times: dict[str, list[float]] = {"automatic (default)": [], "limit off": []}
    try:
        for i in range(args.repeat):
            for name in times if i % 2 == 0 else reversed(times):  # alternating: a noisy minute hits both
                home = {**env, "BACKBEAT_HOME": str(work / f"home-{i}-{name[:4]}")}
                if name == "limit off":
                    subprocess.run([sys.executable, "-m", "engine", "limit", "off", "-q"], env=home, check=True)
                bucket = server.bucket(f"bench-{i}-{name[:4]}")
                times[name].append(timed_backup(server.location(bucket), src, home, server.proc.pid)[0])
    finally:
        server.kill()
    print(
        f"dataset: bench.datasets generate --size-mb {args.size_mb} --seed {args.seed} ({size_mib:.0f} MiB); "
        f"{os.cpu_count()} cores; rclone serve s3 on 127.0.0.1; {args.repeat} runs each, alternating"
    )
    for name, walls in times.items():
        runs = " ".join(f"{size_mib / t:.0f}" for t in walls)
        print(f"{name:<20} median {size_mib / statistics.median(walls):7.1f} MiB/s  (runs: {runs} MiB/s)")
    ratio = statistics.median(times["automatic (default)"]) / statistics.median(times["limit off"])
    print(f"default / limit off, time: {ratio:.2f} (target <= 1.10) {'ok' if ratio <= 1.10 else 'MISS'}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
