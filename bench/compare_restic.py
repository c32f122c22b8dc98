#!/usr/bin/env python3
"""Backbeat beside restic, in one run, on the generated 1 GiB home tree (bench.datasets) (local encrypted repositories).

    python bench/compare_restic.py [--size-mb 1024] [--seed 1] [--repeat 3] [--workdir DIR]

Each repetition starts from a fresh copy of the dataset and fresh repositories, and times for both
tools, interleaved so both see the same page cache: initial backup, no-change backup, backup after
`bench.datasets.mutate` with seed 1, restore of the latest snapshot. Prints the median wall time, CPU time
(user+sys) and peak RSS of each step, the repository size, and the ratios against the targets of
the engine-foundation issue. This VM's page cache makes single runs vary by ±20%; hence the
medians. Needs Debian's `restic` (apt-get install restic).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.datasets import compare, generate, mutate  # noqa: E402

PASSWORD = "bench-password"
TARGETS = {"initial": 0.5, "no-change": 0.5, "after mutate": 0.6, "restore": 1.0}


def run(cmd: list, env: dict) -> tuple[float, float, int]:
    """(wall s, cpu s, peak RSS MiB) of one command, measured with wait4.

    Dirty pages are flushed first: the other tool's writes still queued for the disk would
    otherwise delay this one's fsyncs (both tools fsync what they write)."""
    os.sync()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{cmd[:4]} failed with {code}: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def tools_env(home: Path, restic_cache: Path) -> dict[str, str]:
    """The environment both tools run in: the same password, their own state under the work folder.
    Python writes and reuses its bytecode, as an installed Backbeat does (a shell that turned it
    off would have every run compile the engine again: 0.2-0.3 s that no user pays)."""
    return dict(
        {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        BACKBEAT_PASSWORD=PASSWORD,
        RESTIC_PASSWORD=PASSWORD,
        BACKBEAT_HOME=str(home),
        RESTIC_CACHE_DIR=str(restic_cache),
        PYTHONPATH=str(HERE.parent),
    )


def du(path: Path) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def warm(path: Path) -> None:
    """Flush pending writes, then read the tree, so both tools start from a warm cache."""
    os.sync()
    for d, _, files in os.walk(path):
        for f in files:
            p = os.path.join(d, f)
            if not os.path.islink(p):
                with open(p, "rb") as fh:
                    while fh.read(1 << 20):
                        pass


def one_repetition(work: Path, pristine: Path, env: dict) -> tuple[dict, tuple[int, int], str]:
    src = work / "src"
    for p in ("src", "bb-repo", "restic-repo", "bb-home", "restic-cache", "bb-out", "rs-out"):
        shutil.rmtree(work / p, ignore_errors=True)
    shutil.copytree(pristine, src, symlinks=True)
    bb_repo, rs_repo = work / "bb-repo", work / "restic-repo"
    bb = [sys.executable, "-m", "engine"]
    rs = ["restic", "--repo", str(rs_repo), "--quiet"]
    run([*bb, "init", "--repo", str(bb_repo), "-q"], env)
    run([*rs, "init"], env)
    warm(src)
    backup = ([*bb, "backup", "--repo", str(bb_repo), "-q", str(src)], [*rs, "backup", str(src)])
    steps = [
        ("initial", *backup),
        ("no-change", *backup),
        ("after mutate", *backup),
        (
            "restore",
            [*bb, "restore", "latest", "--repo", str(bb_repo), "-q", "--target", str(work / "bb-out")],
            [*rs, "restore", "latest", "--target", str(work / "rs-out")],
        ),
    ]
    results = {}
    for name, bb_cmd, rs_cmd in steps:
        if name == "after mutate":
            mutate(src, 1)
            warm(src)
        results[name] = (run(bb_cmd, env), run(rs_cmd, env))
        if name == "after mutate":
            sizes = (du(bb_repo), du(rs_repo))
    return results, sizes, compare(src, work / "bb-out" / "src")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, help="keep the work here (default: a temporary folder)")
    args = ap.parse_args()
    if not shutil.which("restic"):
        sys.exit("restic is not installed: apt-get install restic")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="backbeat-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    pristine = work / "dataset"
    if not pristine.exists():
        generate(pristine, args.size_mb, args.seed)
    env = tools_env(work / "bb-home", work / "restic-cache")
    reps = [one_repetition(work, pristine, env) for _ in range(args.repeat)]

    print(
        f"dataset: bench.datasets generate --size-mb {args.size_mb} --seed {args.seed}; {os.cpu_count()} cores; "
        f"median of {args.repeat} repetitions (wall times of each repetition in brackets)"
    )
    print(
        f"{'step':<14}{'Backbeat s':>11}{'restic s':>10}{'ratio':>7}{'target':>8}"
        f"{'BB cpu s':>10}{'rs cpu s':>10}{'BB RSS MiB':>12}{'rs RSS MiB':>12}"
    )
    peak = 0
    for name in TARGETS:
        bb = [r[0][name][0] for r in reps]
        rs = [r[0][name][1] for r in reps]
        med = [statistics.median(x[i] for x in side) for side in (bb, rs) for i in range(3)]
        ratio = med[0] / med[3]
        peak = max(peak, max(x[2] for x in bb))
        per_rep = " ".join(f"{b[0]:.2f}/{r[0]:.2f}" for b, r in zip(bb, rs, strict=True))
        print(
            f"{name:<14}{med[0]:>11.2f}{med[3]:>10.2f}{ratio:>7.2f}{'<=' + str(TARGETS[name]):>8}"
            f"{med[1]:>10.2f}{med[4]:>10.2f}{med[2]:>12.0f}{med[5]:>12.0f}  "
            f"{'ok' if ratio <= TARGETS[name] else 'MISS'}  [{per_rep}]"
        )
    bb_size, rs_size = statistics.median(r[1][0] for r in reps), statistics.median(r[1][1] for r in reps)
    ratio = bb_size / rs_size
    print(
        f"{'repo size MiB':<14}{bb_size / 2**20:>11.1f}{rs_size / 2**20:>10.1f}{ratio:>7.2f}{'<=1.0':>8}"
        f"{'':>44}  {'ok' if ratio <= 1.0 else 'MISS'}"
    )
    print(f"Backbeat peak RSS (max over all steps): {peak} MiB (target <= 150) {'ok' if peak <= 150 else 'MISS'}")
    for _, _, verdict in reps:
        print(f"Backbeat restore vs source: {verdict}")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
