#!/usr/bin/env python3
"""Prune after a history: the generated dataset backed up, then mutated (~5%) and backed up again
`--rounds` times; `forget` keeps the newest `--keep`, then `prune` is timed.

    python bench/prune.py [--size-mb 1024] [--rounds 10] [--keep 3] [--s3]

Prints, per destination (a local folder; with --s3 also a bucket of a loopback S3 server, under
the default upload budget for repacking): prune's seconds, bytes before and after, bytes
reclaimed, bytes re-uploaded by repacking, what was postponed, and the bytes that only the
dropped snapshots needed (the most a prune can reclaim). Then `check --read-data` and a restore
of every kept snapshot compared with the source as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.datasets import compare, generate, mutate  # noqa: E402
from engine.base.units import format_bytes  # noqa: E402
from engine.repo.walk import walk_trees  # noqa: E402
from engine.service import BackupService  # noqa: E402
from tests.s3server import S3Server  # noqa: E402

PASSWORD = "bench prune passphrase"


def cli(env: dict, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "engine", *args, "--json"], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"backbeat {' '.join(args)} failed: {out.stderr}")
    return json.loads(out.stdout)


def only_dropped_bytes(location: str, dropped: set[str], passphrase: str = PASSWORD) -> int:
    """Sealed bytes of the blobs that only the `dropped` snapshots need (the most a prune can reclaim)."""
    service = BackupService(location)
    service.unlock(passphrase)
    users: dict[bytes, set[str]] = {}

    def failed(path: bytes, e: Exception) -> None:
        raise e

    for snap in service.snapshots():
        trees: set[bytes] = set()
        walk_trees(
            service.session.reader,
            snap.tree_id,
            trees,
            lambda b, p, s=snap.id: users.setdefault(b, set()).add(s),
            failed,
        )
        for tree in trees:
            users.setdefault(tree, set()).add(snap.id)
    total = sum(service.session.index.get(b).length for b, u in users.items() if u <= dropped)
    service.close()
    return total


def run(location: str, src0: Path, work: Path, args, env: dict) -> None:
    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(src0, src, symlinks=True)
    states = work / "states"
    shutil.rmtree(states, ignore_errors=True)
    cli(env, "init", "--repo", location)
    ids = []
    t = time.monotonic()
    for i in range(args.rounds + 1):
        if i:
            mutate(src, seed=i)
        ids.append(cli(env, "backup", str(src), "--repo", location)["snapshot_id"])
        if i > args.rounds - args.keep:
            shutil.copytree(src, states / ids[-1], symlinks=True)
    print(f"  {args.rounds + 1} backups in {time.monotonic() - t:.1f} s")
    zero = [a for rule in ("hourly", "daily", "weekly", "monthly", "yearly") for a in (f"--keep-{rule}", "0")]
    forget = ["forget", "--keep-last", str(args.keep), "--keep-deleted", "0", *zero, "--repo", location]
    dropped = {d["id"] for d in cli(env, *forget, "--dry-run")["dropped"]}
    reclaimable = only_dropped_bytes(location, dropped)
    cli(env, *forget)
    t = time.monotonic()
    report = cli(env, "prune", "--repo", location)
    seconds = time.monotonic() - t
    print(f"  prune: {seconds:.1f} s (of which the command's own work {report['duration']:.1f} s)")
    print(
        f"  stored {format_bytes(report['bytes_before'])} -> {format_bytes(report['bytes_after'])}: "
        f"reclaimed {format_bytes(report['bytes_freed'])} "
        f"({100 * report['bytes_freed'] / reclaimable:.1f}% of the {format_bytes(reclaimable)} only dropped "
        "snapshots needed)"
    )
    print(
        f"  packs deleted {report['packs_deleted']} ({format_bytes(report['bytes_deleted'])}), repacked "
        f"{report['packs_repacked']} (re-uploaded {format_bytes(report['bytes_repacked'])}), postponed "
        f"{report['packs_postponed']} ({format_bytes(report['bytes_postponed'])} unused left in them)"
    )
    t = time.monotonic()
    check = cli(env, "check", "--read-data", "--repo", location)
    print(f"  check --read-data: {'ok' if check['ok'] else check['errors'][:3]} ({time.monotonic() - t:.1f} s)")
    for sid in ids[-args.keep :]:
        out = work / "restore"
        shutil.rmtree(out, ignore_errors=True)
        cli(env, "restore", sid, "--target", str(out), "--repo", location)
        print(f"  restore {sid[:8]}: {compare(states / sid, out / 'src')}")
    shutil.rmtree(work / "restore", ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--keep", type=int, default=3)
    ap.add_argument("--s3", action="store_true", help="also to a bucket of a loopback S3 server")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-prune-") as tmp:
        work = Path(tmp)
        src0 = generate(work / "dataset", args.size_mb, args.seed)
        os.environ.update(S3Server.env())  # this process reads the repository too (what only dropped snapshots used)
        env = {**os.environ, "BACKBEAT_PASSWORD": PASSWORD, "PYTHONPATH": str(HERE.parent)}
        print(f"dataset {args.size_mb} MiB, {args.rounds} mutated snapshots after the first, keep {args.keep}")
        print("local folder:")
        env["BACKBEAT_HOME"] = os.environ["BACKBEAT_HOME"] = str(work / "home-local")
        run(str(work / "repo"), src0, work, args, env)
        if args.s3:
            server = S3Server(work / "s3")
            server.start()
            try:
                print("S3 (loopback, default repack budget 256 MiB, up to 5% left unused):")
                env["BACKBEAT_HOME"] = os.environ["BACKBEAT_HOME"] = str(work / "home-s3")
                run(server.location(server.bucket("bench")), src0, work, args, env)
            finally:
                server.kill()


if __name__ == "__main__":
    main()
