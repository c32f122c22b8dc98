#!/usr/bin/env python3
"""Restore over an emulated download line (100 Mbit/s): Backbeat beside restic, in one run.

    sudo .venv/bin/python bench/restore_line.py [--down-mbit 100] [--up-mbit 20] [--size-mb 512] [--repeat 3]

The household of `bench/household.py` (two network namespaces joined by a veth pair, the real S3
server, rclone serve s3, on the "internet" side), with the line's download shaped on the provider's
side (`tc tbf` at --down-mbit, a queue of 50 ms) and its upload at --up-mbit. No delay is added:
this machine's kernel has no `netem`. Both tools back up the same generated home tree
(bench.datasets) on the server's side, once (a seed: the line is for the restore); then each
repetition restores the latest snapshot of both in the home namespace into fresh folders, the two
taking turns (which goes first alternates). Prints each tool's median wall time, how much of the
line it used (bytes the home side received, frames included, over the line's capacity for the whole
restore: start-up and planning count), Backbeat's speed over restic's, and whether every restore
equals the source. Needs root, network namespaces and Debian's `restic`: without them it says so
and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench import household  # noqa: E402
from bench.compare_restic import run  # noqa: E402
from bench.datasets import compare, generate  # noqa: E402
from tests.s3server import ACCESS_KEY, SECRET_KEY  # noqa: E402

TARGET_SHARE = 0.9
PASSWORD = "bench"


def received(house: household.Household) -> int:
    """Bytes the home side has received so far, frames included (what the line carried down)."""
    out = subprocess.run(["ip", "-n", house.home, "-s", "-j", "link", "show", "dev", house.dev_home],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out)[0]["stats64"]["rx"]["bytes"]


def timed(house: household.Household, cmd: list[str], env: dict, down_bps: int) -> tuple[float, float, float]:
    """(wall s, share of the line over the whole restore, seconds until a quarter-second first
    carried 90% of the line) of one restore, the line's counter read every quarter of a second."""
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter(), received(house)))
            done.wait(0.25)

    sampler = threading.Thread(target=sample)
    t0 = time.perf_counter()
    sampler.start()
    try:
        wall = run(cmd, env)[0]
    finally:
        done.set()
        sampler.join()
    samples.append((time.perf_counter(), received(house)))
    share = (samples[-1][1] - samples[0][1]) * 8 / (down_bps * wall)
    full = next((b[0] - t0 for a, b in zip(samples, samples[1:], strict=False)
                 if (b[1] - a[1]) * 8 >= 0.9 * down_bps * (b[0] - a[0])), float("nan"))  # fmt: skip
    return wall, share, full


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--down-mbit", type=float, default=100)
    ap.add_argument("--up-mbit", type=float, default=20, help="the line's upload (requests and acknowledgements)")
    ap.add_argument("--size-mb", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    why = household.namespaces_available()
    if not why and not shutil.which("restic"):
        why = "needs restic (apt-get install restic)"
    if why:
        print(json.dumps({"skipped": why}))
        return 0
    household._line(args.up_mbit, 0.05)
    down_bps = int(args.down_mbit * 1_000_000)
    with tempfile.TemporaryDirectory(prefix="restore-line-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        src = generate(work / "src", args.size_mb, args.seed)
        with household.Household(work, down_bps, int(down_bps / 8 * 0.05)) as house:
            endpoint = f"http://{household.NET_IP}:{household.S3_PORT}"
            (house.s3root / "backbeat").mkdir()
            (house.s3root / "restic").mkdir()
            env = dict(os.environ, BACKBEAT_HOME=str(work / "bb-home"), BACKBEAT_PASSWORD=PASSWORD,
                       RESTIC_PASSWORD=PASSWORD, RESTIC_CACHE_DIR=str(work / "restic-cache"),
                       AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                       PYTHONPATH=str(HERE.parent))  # fmt: skip
            bb_repo = f"s3:{endpoint}/backbeat/repo"
            rs_repo = f"s3:{endpoint}/restic/repo"

            def at(ns: str, *cmd: str) -> list[str]:
                return ["ip", "netns", "exec", ns, *cmd]

            bb = [sys.executable, "-m", "engine"]
            rs = ["restic", "--repo", rs_repo, "--quiet"]
            for cmd in ([*bb, "init", "--repo", bb_repo, "-q"], [*bb, "backup", "--repo", bb_repo, "-q", str(src)],
                        [*rs, "init"], [*rs, "backup", str(src)]):  # fmt: skip
                run(at(house.net, *cmd), env)
            restores = {
                "Backbeat": [*bb, "restore", "latest", "--repo", bb_repo, "-q", "--target", str(work / "bb-out")],
                "restic": [*rs, "restore", "latest", "--target", str(work / "rs-out")],
            }
            times: dict[str, list[float]] = {tool: [] for tool in restores}
            shares: dict[str, list[float]] = {tool: [] for tool in restores}
            full: dict[str, list[float]] = {tool: [] for tool in restores}
            identical: set[str] = set()
            for i in range(args.repeat):
                for tool in sorted(restores, reverse=i % 2 == 1):
                    shutil.rmtree(work / ("bb-out" if tool == "Backbeat" else "rs-out"), ignore_errors=True)
                    wall, share, first_full = timed(house, at(house.home, *restores[tool]), env, down_bps)
                    times[tool].append(wall)
                    shares[tool].append(share)
                    full[tool].append(first_full)
                identical.add(compare(src, work / "bb-out" / src.name))
        size_mib = sum(p.stat().st_size for p in src.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20
    print(f"dataset: bench.datasets generate --size-mb {args.size_mb} --seed {args.seed} ({size_mib:.0f} MiB); "
          f"{os.cpu_count()} cores; a line of {args.down_mbit:g} Mbit/s down, {args.up_mbit:g} up; "
          f"median of {args.repeat} restores, alternating")  # fmt: skip
    for tool in restores:
        runs = " ".join(f"{t:.1f}" for t in times[tool])
        share = statistics.median(shares[tool])
        print(f"restore {tool:<9} median {statistics.median(times[tool]):6.1f} s, {share:6.1%} of the line, "
              f"90% of it after {statistics.median(full[tool]):.2f} s (runs: {runs} s)")  # fmt: skip
    ratio = statistics.median(times["restic"]) / statistics.median(times["Backbeat"])
    share = statistics.median(shares["Backbeat"])
    print(f"Backbeat's restore speed / restic's: {ratio:.2f}")
    print(f"Backbeat's share of the line: {share:.1%} (target >= {TARGET_SHARE:.0%}) "
          f"{'ok' if share >= TARGET_SHARE else 'MISS'}")  # fmt: skip
    for verdict in sorted(identical):
        print(f"Backbeat restore vs source: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
