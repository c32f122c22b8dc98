"""The dataset tools from a shell: generate, mutate, compare (see each module's docstring)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bench.datasets import differences, generate, mutate


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.datasets", description=__doc__)
    sub = parser.add_subparsers(dest="tool", required=True)
    gen = sub.add_parser("generate", help="write a home tree of a size from a seed")
    gen.add_argument("dest", type=Path)
    gen.add_argument("--size-mb", type=int, default=64)
    gen.add_argument("--seed", type=int, default=1)
    mut = sub.add_parser("mutate", help="a week of changes, ~5%% of the bytes")
    mut.add_argument("tree", type=Path)
    mut.add_argument("--seed", type=int, default=1)
    cmp = sub.add_parser("compare", help="every difference a restore must not have; exit 1 if any")
    cmp.add_argument("a", type=Path)
    cmp.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.tool == "generate":
        generate(args.dest, args.size_mb, args.seed)
        files = sum(len(f) for _, _, f in os.walk(args.dest))
        print(f"{args.dest}: {files} files, {args.size_mb} MiB, seed {args.seed}")
    elif args.tool == "mutate":
        mutate(args.tree, args.seed)
        print(f"{args.tree}: mutated with seed {args.seed}")
    else:
        found = differences(args.a, args.b, limit=1000)
        print("\n".join(found + [f"DIFFERENT: {len(found)} difference(s)" if found else "OK: no difference"]))
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
