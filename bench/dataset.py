"""The shared benchmark dataset tools (../shared/bench), called the same way by every script here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"


def generate(dest: Path, size_mb: int, seed: int) -> Path:
    """gen_dataset.py: the same (size, seed) always gives the same tree."""
    cmd = [sys.executable, SHARED / "gen_dataset.py", dest, "--size-mb", str(size_mb), "--seed", str(seed)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return dest


def mutate(tree: Path, seed: int = 1) -> None:
    """~5% of the bytes changed (mutate.py). It refuses a tree it already mutated (it renames a year
    of photos to Pictures/2024): that folder is renamed first, so a tree can be mutated again and again."""
    done = tree / "Pictures" / "2024"
    if done.exists():
        done.rename(done.with_name(f"2024-before-{seed}"))
    subprocess.run(
        [sys.executable, SHARED / "mutate.py", tree, "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL
    )


def compare(a: Path, b: Path) -> str:
    """treehash.py --compare --strict-meta: its verdict line."""
    cmd = [sys.executable, SHARED / "treehash.py", "--compare", "--strict-meta", a, b]
    return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[-1]
