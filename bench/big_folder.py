#!/usr/bin/env python3
"""One folder of a million entries: backup, no-change backup, listing and restore, with peak RSS.

    python bench/big_folder.py [--entries 1000000] [--no-restic]

Each entry is a file of a few bytes (its number). Backbeat, and restic beside it when installed,
back up to a fresh local encrypted repository; then Backbeat lists the snapshot (`ls`) and
restores it, and the restored folder is counted; one file changed between the no-change backup
and the next shows what a change re-sends (one part of the folder's listing). Wall time, CPU and
peak RSS come from wait4 (bench/compare_restic.py's `run`). This is the faults issue's
"million-entry folder" case (docs/reliability.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.compare_restic import du, run, tools_env  # noqa: E402


def make_folder(folder: Path, entries: int) -> None:
    folder.mkdir(parents=True)
    for i in range(entries):
        fd = os.open(folder / f"file-{i:07d}.txt", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"%d" % i)
        os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--no-restic", action="store_true", help="Backbeat only")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backbeat-bigfolder-"))
    try:
        src = work / "src"
        make_folder(src / "big", args.entries)
        print(f"{args.entries} entries in one folder")
        env = tools_env(work / "home", work / "restic-cache")
        bb = [sys.executable, "-m", "engine"]
        repo = ["--repo", str(work / "bb")]
        run([*bb, "init", *repo], env)
        changed = src / "big" / f"file-{args.entries // 2:07d}.txt"
        steps = [
            ("backbeat", "first backup", [*bb, "backup", *repo, "-q", str(src)]),
            ("backbeat", "no-change", [*bb, "backup", *repo, "-q", str(src)]),
            ("backbeat", "one changed", [*bb, "backup", *repo, "-q", str(src)]),
            ("backbeat", "ls", [*bb, "ls", *repo, "latest"]),
            ("backbeat", "restore", [*bb, "restore", *repo, "-q", "latest", "--target", str(work / "out")]),
        ]
        if not args.no_restic and shutil.which("restic"):
            run(["restic", "init", "--repo", str(work / "restic")], env)
            backup = ["restic", "backup", "--repo", str(work / "restic"), "-q", str(src)]
            steps += [("restic", "first backup", backup), ("restic", "no-change", backup)]
        rows, added = [], 0
        for tool, step, cmd in steps:
            if step == "one changed":  # what it re-sends is one part of the folder's listing, not all of it
                changed.write_bytes(b"changed, and longer")
                added = -du(work / "bb")
            rows.append((tool, step, *run(cmd, env)))
            if step == "one changed":
                added += du(work / "bb")
        restored = sum(len(files) for _, _, files in os.walk(work / "out"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'tool':9} {'step':13} {'wall s':>7} {'cpu s':>7} {'peak RSS MiB':>13}")
    for tool, step, wall, cpu, rss in rows:
        print(f"{tool:9} {step:13} {wall:7.1f} {cpu:7.1f} {rss:13}")
    print(f"one changed file added {added / 1024:.0f} KiB to the repository")
    print(f"restored {restored} of {args.entries} files")
    if restored != args.entries:
        sys.exit("the restore is incomplete")


if __name__ == "__main__":
    main()
