#!/usr/bin/env python3
"""200,000 small files: first and no-change backup times and peak RSS, beside restic, in one run.

    python bench/scale.py [--files 200000] [--per-folder 500] [--seed 3]

The tree holds `--files` files of 100 B to 4 KiB (random bytes, so nothing compresses) in folders
of `--per-folder`. Both tools back up to a fresh local encrypted repository: first backup, then a
backup with nothing changed. Wall time, CPU and peak RSS come from wait4 (bench/compare_restic.py's
`run`). Targets (the faults issue): no-change under 3 s, peak RSS under 300 MiB.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.compare_restic import run, tools_env  # noqa: E402


def make_tree(root: Path, files: int, per_folder: int, seed: int) -> int:
    rnd = random.Random(seed)
    total = 0
    for n in range(files):
        folder = root / f"d{n // per_folder // 100:03d}" / f"d{n // per_folder:05d}"
        if n % per_folder == 0:
            folder.mkdir(parents=True)
        data = rnd.randbytes(rnd.randint(100, 4096))
        (folder / f"f{n:07d}.txt").write_bytes(data)
        total += len(data)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--per-folder", type=int, default=500)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backbeat-scale-"))
    try:
        src = work / "src"
        size = make_tree(src, args.files, args.per_folder, args.seed)
        print(f"{args.files} files, {size / 1e6:.0f} MB, {args.files // args.per_folder} folders")
        env = tools_env(work / "home", work / "restic-cache")
        bb = [sys.executable, "-m", "engine"]
        tools = {"backbeat": [*bb, "backup", "--repo", str(work / "bb"), "-q", str(src)]}
        run([*bb, "init", "--repo", str(work / "bb")], env)
        if shutil.which("restic"):
            run(["restic", "init", "--repo", str(work / "restic")], env)
            tools["restic"] = ["restic", "backup", "--repo", str(work / "restic"), "-q", str(src)]
        rows = []
        for step in ("first", "no-change"):
            for tool, cmd in tools.items():
                wall, cpu, rss = run(cmd, env)
                rows.append((tool, step, wall, cpu, rss))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'tool':9} {'backup':10} {'wall s':>7} {'cpu s':>7} {'peak RSS MiB':>13}")
    for tool, step, wall, cpu, rss in rows:
        print(f"{tool:9} {step:10} {wall:7.1f} {cpu:7.1f} {rss:13}")
    ours = {step: (wall, rss) for tool, step, wall, _, rss in rows if tool == "backbeat"}
    peak = max(rss for _, rss in ours.values())
    print(f"targets: no-change {ours['no-change'][0]:.1f} s (< 3 s), peak RSS {peak} MiB (< 300 MiB)")


if __name__ == "__main__":
    main()
