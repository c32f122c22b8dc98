#!/usr/bin/env python3
"""Backbeat beside restic, in one run, on the shared 1 GiB dataset (local encrypted repositories).

    python bench/compare_restic.py [--size-mb 1024] [--seed 1] [--workdir DIR] [--keep]

Steps, each timed for both tools, interleaved so both see the same page cache: initial backup,
no-change backup, backup after `mutate.py --seed 1`, restore of the latest snapshot. Prints wall
time, CPU time (user+sys), peak RSS and repository size, and the ratios against the targets of
the engine-foundation issue. Needs Debian's `restic` (apt-get install restic).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "bench"
PASSWORD = "bench-password"
TARGETS = {"initial": 0.5, "no-change": 0.5, "after mutate": 0.6, "restore": 1.0}


def run(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """(wall s, cpu s, peak RSS MiB) of one command, measured with wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{cmd[:4]} failed with {code}: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def du(path: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def warm(path: Path) -> None:
    """Flush what the generator wrote, then read it all, so both tools start from a warm cache."""
    os.sync()
    for d, _, files in os.walk(path):
        for f in files:
            p = os.path.join(d, f)
            if not os.path.islink(p):
                with open(p, "rb") as fh:
                    while fh.read(1 << 20):
                        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    if not shutil.which("restic"):
        sys.exit("restic is not installed: apt-get install restic")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="backbeat-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    subprocess.run(
        [sys.executable, SHARED / "gen_dataset.py", src, "--size-mb", str(args.size_mb), "--seed", str(args.seed)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    env = dict(
        os.environ,
        BACKBEAT_PASSWORD=PASSWORD,
        RESTIC_PASSWORD=PASSWORD,
        BACKBEAT_HOME=str(work / "bb-home"),
        RESTIC_CACHE_DIR=str(work / "restic-cache"),
        PYTHONPATH=str(HERE.parent),
    )
    bb_repo, rs_repo = work / "bb-repo", work / "restic-repo"
    for p in (bb_repo, rs_repo, work / "bb-home", work / "restic-cache", work / "bb-out", work / "rs-out"):
        shutil.rmtree(p, ignore_errors=True)
    bb = [sys.executable, "-m", "engine"]
    rs = ["restic", "--repo", str(rs_repo), "--quiet"]
    run([*bb, "init", "--repo", str(bb_repo), "-q"], env)
    run([*rs, "init"], env)
    warm(src)

    steps = [
        ("initial", [*bb, "backup", "--repo", str(bb_repo), "-q", str(src)], [*rs, "backup", str(src)]),
        ("no-change", [*bb, "backup", "--repo", str(bb_repo), "-q", str(src)], [*rs, "backup", str(src)]),
        ("after mutate", [*bb, "backup", "--repo", str(bb_repo), "-q", str(src)], [*rs, "backup", str(src)]),
        (
            "restore",
            [*bb, "restore", "latest", "--repo", str(bb_repo), "-q", "--target", str(work / "bb-out")],
            [*rs, "restore", "latest", "--target", str(work / "rs-out")],
        ),
    ]
    rows = []
    for name, bb_cmd, rs_cmd in steps:
        if name == "after mutate":
            subprocess.run(
                [sys.executable, SHARED / "mutate.py", src, "--seed", "1"], check=True, stdout=subprocess.DEVNULL
            )
            warm(src)
        b = run(bb_cmd, env)
        r = run(rs_cmd, env)
        rows.append((name, b, r))
        if name == "after mutate":
            sizes = (du(bb_repo), du(rs_repo))

    restored = subprocess.run(
        [sys.executable, SHARED / "treehash.py", "--compare", "--strict-meta", src, work / "bb-out" / "src"],
        capture_output=True,
        text=True,
    )
    print(f"dataset: gen_dataset.py --size-mb {args.size_mb} --seed {args.seed}; {os.cpu_count()} cores")
    print(
        f"{'step':<14}{'Backbeat s':>11}{'restic s':>10}{'ratio':>7}{'target':>8}"
        f"{'BB cpu s':>10}{'rs cpu s':>10}{'BB RSS MiB':>12}{'rs RSS MiB':>12}"
    )
    peak = 0
    for name, b, r in rows:
        ratio = b[0] / r[0]
        ok = "ok" if ratio <= TARGETS[name] else "MISS"
        peak = max(peak, b[2])
        print(
            f"{name:<14}{b[0]:>11.2f}{r[0]:>10.2f}{ratio:>7.2f}{'<=' + str(TARGETS[name]):>8}"
            f"{b[1]:>10.2f}{r[1]:>10.2f}{b[2]:>12}{r[2]:>12}  {ok}"
        )
    ratio = sizes[0] / sizes[1]
    print(
        f"{'repo size MiB':<14}{sizes[0] / 2**20:>11.1f}{sizes[1] / 2**20:>10.1f}{ratio:>7.2f}{'<=1.0':>8}"
        f"{'':>44}  {'ok' if ratio <= 1.0 else 'MISS'}"
    )
    print(f"Backbeat peak RSS: {peak} MiB (target <= 150) {'ok' if peak <= 150 else 'MISS'}")
    print(f"Backbeat restore vs source: {restored.stdout.strip().splitlines()[-1]}")
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
