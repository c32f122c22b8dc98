#!/usr/bin/env python3
"""Backup speed to a loopback S3 server (rclone serve s3) beside the same backup to a local folder.

    python bench/s3_vs_local.py [--size-mb 1024] [--seed 1] [--repeat 3]

Each repetition makes fresh repositories and a fresh BACKBEAT_HOME for each destination and backs
up the same dataset; prints MiB/s of dataset read for both (median and each run), Backbeat's CPU
time and the S3 server's (it shares this machine's cores), and the S3/local ratio against the
cloud-destination issue's target (>= 0.6).
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
from bench.datasets import generate  # noqa: E402
from tests.s3server import S3Server  # noqa: E402


def _cpu_of(pid: int | None) -> float:
    """user+sys seconds a running process has used so far (the S3 server's share of the machine)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_backup(location: str, src: Path, env: dict, server_pid: int | None = None) -> tuple[float, float, float]:
    """(wall s, Backbeat's CPU s, the server's CPU s) of one backup."""
    subprocess.run([sys.executable, "-m", "engine", "init", "--repo", location, "-q"], env=env, check=True)
    os.sync()
    server0 = _cpu_of(server_pid)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "engine", "backup", "--repo", location, "-q", str(src)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"backup to {location} failed")
    return wall, usage.ru_utime + usage.ru_stime, _cpu_of(server_pid) - server0


def loopback_bench(description: str, size_mb: int) -> tuple[argparse.Namespace, Path, Path, float, S3Server, dict]:
    """What a loopback S3 bench starts with: its arguments (--size-mb, --seed, --repeat), a work
    folder holding the generated dataset `src` (and its MiB), rclone's S3 server started on the
    loopback, and the environment for Backbeat's commands."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--size-mb", type=int, default=size_mb)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backbeat-s3bench-"))
    src = work / "src"
    generate(src, args.size_mb, args.seed)
    files = [os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs]
    size_mib = sum(os.path.getsize(p) for p in files if not os.path.islink(p)) / 2**20
    server = S3Server(work / "s3")
    server.start()
    env = dict(os.environ, BACKBEAT_PASSWORD="bench", PYTHONPATH=str(HERE.parent), **S3Server.env())
    return args, work, src, size_mib, server, env


def main() -> None:
    args, work, src, size_mib, server, env = loopback_bench(__doc__.splitlines()[0], 1024)
    local, cloud = [], []
    try:
        for i in range(args.repeat):
            local.append(timed_backup(str(work / f"repo-{i}"), src, {**env, "BACKBEAT_HOME": str(work / f"home-l{i}")}))
            bucket = server.bucket(f"bench-{i}")
            home = {**env, "BACKBEAT_HOME": str(work / f"home-s{i}")}
            cloud.append(timed_backup(server.location(bucket), src, home, server.proc.pid))
            shutil.rmtree(work / f"repo-{i}", ignore_errors=True)
    finally:
        server.kill()
    print(
        f"dataset: bench.datasets generate --size-mb {args.size_mb} --seed {args.seed} ({size_mib:.0f} MiB); "
        f"{os.cpu_count()} cores; rclone serve s3 on 127.0.0.1"
    )
    for name, results in (("local folder", local), ("loopback S3", cloud)):
        walls = [r[0] for r in results]
        runs = " ".join(f"{size_mib / t:.0f}" for t in walls)
        print(
            f"{name:<14} median {size_mib / statistics.median(walls):7.1f} MiB/s  (runs: {runs} MiB/s); "
            f"Backbeat CPU {statistics.median(r[1] for r in results):.2f} s, "
            f"S3 server CPU {statistics.median(r[2] for r in results):.2f} s"
        )
    ratio = statistics.median(r[0] for r in local) / statistics.median(r[0] for r in cloud)
    print(f"S3 / local speed: {ratio:.2f} (target >= 0.6) {'ok' if ratio >= 0.6 else 'MISS'}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
