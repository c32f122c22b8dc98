#!/usr/bin/env python3
"""200,000 small files: first and no-change backup and restore times and peak RSS, beside restic
(and beside another Backbeat checkout with --also), in one run.

    python bench/scale.py [--files 200000] [--per-folder 500] [--seed 3] [--repeat 3] [--also DIR]
    python bench/scale.py --tree /usr/share [--repeat 3]

The tree holds `--files` files of 100 B to 4 KiB (random bytes, so nothing compresses) in folders
of `--per-folder`; or, with `--tree`, a copy of a real tree nobody here wrote (links kept as links,
what cannot be read left out). Every tool backs up to a fresh local encrypted repository: first backup, a
backup with nothing changed, then a restore of it to a folder. Wall time, CPU and peak RSS come
from wait4 (bench/compare_restic.py's `run`). Targets (the faults issue): no-change under 3 s, peak RSS under 300 MiB.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.compare_restic import run, tools_env  # noqa: E402


def make_tree(root: Path, files: int, per_folder: int, seed: int, largest: int = 4096) -> int:
    """`files` files of random bytes, 100 B to `largest`, in folders of `per_folder`: their bytes."""
    rnd = random.Random(seed)
    total = 0
    for n in range(files):
        folder = root / f"d{n // per_folder // 100:03d}" / f"d{n // per_folder:05d}"
        if n % per_folder == 0:
            folder.mkdir(parents=True)
        data = rnd.randbytes(rnd.randint(100, largest))
        (folder / f"f{n:07d}.txt").write_bytes(data)
        total += len(data)
    return total


def _copy(source: str, target: str) -> None:
    """A real tree holds what this user cannot read: it is left out of the copy."""
    try:
        shutil.copy2(source, target)
    except OSError:
        pass


def _tools(work: Path, src: Path, also: list[Path]) -> dict[str, dict]:
    """Per tool: its environment and commands (init, backup, restore to a folder)."""
    tools = {}
    for label, checkout in [("backbeat", HERE.parent)] + [(f"bb@{p.name}", p.resolve()) for p in also]:
        # -P: the engine comes from PYTHONPATH (the checkout), not from the folder this runs in
        repo, bb = work / f"repo-{label}", [sys.executable, "-P", "-m", "engine"]
        env = tools_env(work / f"home-{label}", work / "restic-cache") | {"PYTHONPATH": str(checkout)}
        tools[label] = {
            "env": env,
            "init": [*bb, "init", "--repo", str(repo)],
            "backup": [*bb, "backup", "--repo", str(repo), "-q", str(src)],
            "restore": [*bb, "restore", "latest", "--repo", str(repo), "-q", "--target"],
        }
    if shutil.which("restic"):
        repo = str(work / "repo-restic")
        tools["restic"] = {
            "env": tools_env(work / "home-restic", work / "restic-cache"),
            "init": ["restic", "init", "--repo", repo],
            "backup": ["restic", "backup", "--repo", repo, "-q", str(src)],
            "restore": ["restic", "restore", "latest", "--repo", repo, "-q", "--target"],
        }
    return tools


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--per-folder", type=int, default=500)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=1, help="runs of every step; medians are printed")
    ap.add_argument("--tree", type=Path, help="back up a copy of this real tree instead of a generated one")
    ap.add_argument(
        "--also", type=Path, action="append", default=[], metavar="CHECKOUT",
        help="another Backbeat checkout (the commit before a change: `git worktree add`), timed beside this one",
    )  # fmt: skip
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backbeat-scale-"))
    rows: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
    try:
        src = work / "src"
        if args.tree is not None:
            shutil.copytree(args.tree, src, symlinks=True, ignore_dangling_symlinks=True, copy_function=_copy)
            files = [f for f in src.rglob("*") if f.is_file() and not f.is_symlink()]
            size = sum(f.stat().st_size for f in files)
            print(f"a copy of {args.tree}: {len(files)} files, {size / 1e6:.0f} MB")
        else:
            size = make_tree(src, args.files, args.per_folder, args.seed)
            print(f"{args.files} files, {size / 1e6:.0f} MB, {args.files // args.per_folder} folders")
        tools = _tools(work, src, args.also)
        for _ in range(args.repeat):
            for leftover in [*work.glob("repo-*"), *work.glob("home-*")]:  # "first" is a first backup
                shutil.rmtree(leftover)
            for tool in tools.values():
                run(tool["init"], tool["env"])
            for step in ("first", "no-change", "restore"):
                for label, tool in tools.items():  # interleaved: both see the same page cache
                    out = work / "out"
                    cmd = [*tool["restore"], str(out)] if step == "restore" else tool["backup"]
                    rows.setdefault((label, step), []).append(run(cmd, tool["env"]))
                    shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"medians of {args.repeat} run(s)")
    print(f"{'tool':14} {'step':10} {'wall s':>7} {'cpu s':>7} {'peak RSS MiB':>13}")
    for (tool, step), runs in rows.items():
        wall, cpu, rss = (statistics.median(r[i] for r in runs) for i in range(3))
        print(f"{tool:14} {step:10} {wall:7.1f} {cpu:7.1f} {rss:13.0f}")
    for (tool, step), runs in rows.items():
        if tool != "backbeat":
            ours = statistics.median(r[0] for r in rows[("backbeat", step)])
            print(f"backbeat / {tool} {step}: {ours / statistics.median(r[0] for r in runs):.2f}x")
    no_change = statistics.median(r[0] for r in rows[("backbeat", "no-change")])
    peak = max(r[2] for (tool, _), runs in rows.items() if tool == "backbeat" for r in runs)
    print(f"targets: no-change {no_change:.1f} s (< 3 s), peak RSS {peak} MiB (< 300 MiB)")


if __name__ == "__main__":
    main()
