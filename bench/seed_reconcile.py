#!/usr/bin/env python3
"""The seed drive hand-over at scale: export, load into a loopback S3 server, lose packs, reconcile, back up.

    python bench/seed_reconcile.py [--size-mb 1024] [--lose 3]

Prints one JSON line: the export's and the load's seconds, reconcile's seconds without and with
`--full` (target without: <= 5 s), how many packs reconcile checked by the listed MD5 and how many
it read (with the bytes it downloaded), and the first backup after it: bytes uploaded against (the
compressed size of the changed data, measured by the same backup into a copy of the drive, plus
the lost packs), as a ratio (target <= 1.2).
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
from bench.datasets import generate, mutate  # noqa: E402
from tests.s3server import S3Server  # noqa: E402

BB = [sys.executable, "-m", "engine"]


def bb(env: dict, *args: str) -> tuple[dict, float]:
    """Run a command with --json; (its document, seconds)."""
    t0 = time.perf_counter()
    out = subprocess.run([*BB, *args, "--json"], env=env, capture_output=True, text=True, cwd=HERE.parent)
    if out.returncode not in (0, 3):
        raise SystemExit(f"{args[0]} failed: {out.stderr}")
    return json.loads(out.stdout), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--lose", type=int, default=3, help="packs the provider loses")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backbeat-seed-"))
    try:
        src = generate(work / "src", args.size_mb, 1)
        server = S3Server(work / "s3")
        server.start()
        bucket = server.bucket("seed-bench")
        cloud, drive = server.location(bucket), str(work / "drive")
        env = {**os.environ, **S3Server.env(), "BACKBEAT_HOME": str(work / "home"), "BACKBEAT_PASSWORD": "bench"}
        bb(env, "init", "--repo", cloud)
        bb(env, "limit", "off")  # a loopback server: the line's pace is not what is measured
        exported, t_export = bb(env, "seed", "export", "--repo", cloud, "--drive", drive, str(src))
        shutil.copytree(drive, work / "shadow")
        mutate(src)
        alone, _ = bb({**env, "BACKBEAT_HOME": str(work / "home2")}, "backup", "--repo", str(work / "shadow"), str(src))
        _, t_load = bb(env, "seed", "load", "--drive", drive, "--repo", cloud)
        packs = sorted((size, name) for name, size in server.objects(bucket).items() if "/data/" in name)
        lost = packs[len(packs) // 2 : len(packs) // 2 + args.lose]
        for _size, name in lost:
            server.delete(bucket, name)
        report, t_reconcile = bb(env, "reconcile", "--repo", cloud)
        _, t_full = bb(env, "reconcile", "--repo", cloud, "--full")
        before = sum(server.objects(bucket).values())
        backup, _ = bb(env, "backup", "--repo", cloud, str(src))
        uploaded = sum(server.objects(bucket).values()) - before
        expected = alone["bytes_added"] + sum(size for size, _ in lost)
        server.kill()
        print(
            json.dumps(
                {
                    "size_mb": args.size_mb,
                    "export_s": round(t_export, 1),
                    "stored_mb": round(exported["bytes_added"] / 2**20, 1),
                    "load_s": round(t_load, 1),
                    "packs": len(packs),
                    "lost_packs": len(lost),
                    "reconcile_missing": len(report["missing"]),
                    "reconcile_s": round(t_reconcile, 2),
                    "reconcile_packs_checksummed": report["packs_checksummed"],
                    "reconcile_packs_read": report["packs_verified"],
                    "reconcile_bytes_read": report["bytes_read"],
                    "reconcile_full_s": round(t_full, 2),
                    "percent_after_reconcile": round(report["percent_backed_up"], 2),
                    "uploaded_mb": round(uploaded / 2**20, 1),
                    "changed_plus_lost_mb": round(expected / 2**20, 1),
                    "upload_ratio": round(uploaded / expected, 3),
                    "target": "reconcile_s <= 5, upload_ratio <= 1.2",
                }
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
