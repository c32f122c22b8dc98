#!/usr/bin/env python3
"""Restore from a loopback S3 server (rclone serve s3): Backbeat beside restic, in one run.

    python bench/cloud_restore.py [--size-mb 1024] [--seed 1] [--repeat 3]

Both tools back up the same generated home tree (bench.datasets) to their own bucket of one S3
server on 127.0.0.1, once; then each repetition restores the latest snapshot of both into fresh
folders, the two tools taking turns (which goes first alternates), so both see the same machine.
Prints the median wall time of each, its MiB/s, the speed ratio (restic's time / Backbeat's)
against the speed issue's target (>= 1.5), and whether every restore equals the source. Needs
Debian's `restic` (apt-get install restic).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.compare_restic import run  # noqa: E402
from bench.datasets import compare  # noqa: E402
from bench.s3_vs_local import loopback_bench  # noqa: E402
from tests.s3server import ACCESS_KEY, SECRET_KEY  # noqa: E402

TARGET = 1.5
PASSWORD = "bench"


def main() -> None:
    args, work, src, size_mib, server, env = loopback_bench(__doc__.splitlines()[0], 1024)
    env = dict(
        env,
        BACKBEAT_HOME=str(work / "bb-home"),
        RESTIC_PASSWORD=PASSWORD,
        RESTIC_CACHE_DIR=str(work / "restic-cache"),
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
    )
    bb_repo = server.location(server.bucket("backbeat"))
    rs_repo = f"s3:{server.endpoint}/{server.bucket('restic')}/repo"
    bb = [sys.executable, "-m", "engine"]
    rs = ["restic", "--repo", rs_repo, "--quiet"]
    times: dict[str, list[float]] = {"Backbeat": [], "restic": []}
    identical: list[str] = []
    try:
        run([*bb, "init", "--repo", bb_repo, "-q"], env)
        run([*rs, "init"], env)
        backup = {
            "Backbeat": run([*bb, "backup", "--repo", bb_repo, "-q", str(src)], env)[0],
            "restic": run([*rs, "backup", str(src)], env)[0],
        }
        for i in range(args.repeat):
            restores = {
                "Backbeat": [*bb, "restore", "latest", "--repo", bb_repo, "-q", "--target", str(work / "bb-out")],
                "restic": [*rs, "restore", "latest", "--target", str(work / "rs-out")],
            }
            for tool in sorted(restores, reverse=i % 2 == 1):
                out = work / ("bb-out" if tool == "Backbeat" else "rs-out")
                shutil.rmtree(out, ignore_errors=True)
                times[tool].append(run(restores[tool], env)[0])
            identical.append(compare(src, work / "bb-out" / src.name))
    finally:
        server.kill()
    print(
        f"dataset: bench.datasets generate --size-mb {args.size_mb} --seed {args.seed} ({size_mib:.0f} MiB); "
        f"{os.cpu_count()} cores; rclone serve s3 on 127.0.0.1; median of {args.repeat} restores, alternating"
    )
    print(f"backup (once, for the restores): Backbeat {backup['Backbeat']:.1f} s, restic {backup['restic']:.1f} s")
    for tool, walls in times.items():
        runs = " ".join(f"{t:.2f}" for t in walls)
        median = statistics.median(walls)
        print(f"restore {tool:<9} median {median:6.2f} s  {size_mib / median:6.1f} MiB/s  (runs: {runs} s)")
    ratio = statistics.median(times["restic"]) / statistics.median(times["Backbeat"])
    verdict = "ok" if ratio >= TARGET else "MISS"
    print(f"Backbeat's restore speed / restic's: {ratio:.2f} (target >= {TARGET}) {verdict}")
    for verdict in sorted(set(identical)):
        print(f"Backbeat restore vs source: {verdict}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
