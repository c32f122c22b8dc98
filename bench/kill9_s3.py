#!/usr/bin/env python3
"""kill -9 of backups to a loopback S3 server at many random moments, each followed by a check.

    python bench/kill9_s3.py [--kills 30] [--size-mb 256] [--seed 7]

After every kill the repository must check clean; at the end one backup completes, `check
--read-data` passes, no blob is stored in two packs, and the restore equals the source. Prints
how many kills landed, the time each check took, and the verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.dataset import compare, generate  # noqa: E402
from engine.backends.location import open_location  # noqa: E402
from engine.session import open_session  # noqa: E402
from tests.s3server import S3Server  # noqa: E402

PASSWORD = "bench"
BB = [sys.executable, "-m", "engine"]


def bb(*args: str, env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*BB, *args], env=env, capture_output=True, text=True, **kw)


def kill_loop(server: S3Server, location: str, src: Path, env: dict, rnd: random.Random, wanted: int):
    """Back up new data and kill -9 each run at a random point: before, during or after its uploads
    (once 0-5 of its packs have landed, then up to 0.3 s more). Check after each. -> (kills, check times)."""
    bucket = location.split("/")[-2]
    kills, checks = 0, []
    while kills < wanted:
        (src / f"new-{kills}.bin").write_bytes(rnd.randbytes(48 << 20))  # every run has packs to upload
        before = sum(1 for k in server.objects(bucket) if "/data/" in k)
        target = before + rnd.randint(0, 5)
        cmd = [*BB, "backup", "--repo", location, "-q", str(src)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and sum(1 for k in server.objects(bucket) if "/data/" in k) < target:
            time.sleep(0.005)
        time.sleep(rnd.uniform(0, 0.3))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        t0 = time.perf_counter()
        check = bb("check", "--repo", location, "--json", env=env)
        checks.append(time.perf_counter() - t0)
        if not json.loads(check.stdout)["ok"]:
            sys.exit(f"after kill {kills}: check failed: {check.stdout}")
    return kills, checks


def duplicated_blobs(location: str) -> tuple[int, int]:
    session = open_session(open_location(location), PASSWORD)
    counts = Counter(e.blob_id for p in session.repo.pack_ids() for e in session.repo.pack_header(p).entries)
    session.close()
    return sum(1 for n in counts.values() if n > 1), len(counts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--size-mb", type=int, default=256)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backbeat-kill9-"))
    src = work / "src"
    generate(src, args.size_mb, args.seed)
    server = S3Server(work / "s3")
    server.start()
    env = dict(os.environ, BACKBEAT_PASSWORD=PASSWORD, BACKBEAT_HOME=str(work / "home"), PYTHONPATH=str(HERE.parent))
    env.update(S3Server.env())
    os.environ.update(env)
    location = server.location(server.bucket("kill9"))
    try:
        bb("init", "--repo", location, env=env, check=True)
        kills, checks = kill_loop(server, location, src, env, random.Random(args.seed), args.kills)
        bb("backup", "--repo", location, str(src), env=env, check=True)
        full = json.loads(bb("check", "--read-data", "--repo", location, "--json", env=env).stdout)
        twice, blobs = duplicated_blobs(location)
        bb("restore", "latest", "--repo", location, "--target", str(work / "out"), env=env, check=True)
        same = compare(src, work / "out" / "src")
    finally:
        server.kill()
    print(f"dataset {args.size_mb} MiB plus 48 MiB of new data per run; {kills} runs killed at random moments")
    print(f"quick check after each kill: all clean (median {sorted(checks)[len(checks) // 2]:.2f} s)")
    print(f"final backup, then check --read-data: {'clean' if full['ok'] else 'FAILED'}")
    print(f"blobs stored in more than one pack: {twice} of {blobs}")
    print(f"restore vs source: {same}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
