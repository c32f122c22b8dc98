#!/usr/bin/env python3
"""CPU cost of the limiter at a DSL line's rate: four upload threads drain the token bucket for N
seconds while the pacer runs as in a backup (ten decisions a second, the pause and settings files
looked at, the activity file rewritten every second).

    python bench/limiter_cpu.py [--kbit 1300] [--seconds 10]

Prints the rate achieved and the process's CPU time as a share of one core (target: under 2%).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.backends.ratelimit import TokenBucket  # noqa: E402
from engine.config.bandwidth import BandwidthPolicy  # noqa: E402
from engine.config.settings import Settings, save_settings  # noqa: E402
from engine.meter.pacing import Pacer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kbit", type=float, default=1300)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    rate = args.kbit * 1000 / 8
    os.environ["BACKBEAT_HOME"] = tempfile.mkdtemp(prefix="limiter-cpu-")
    save_settings(Settings(BandwidthPolicy("fixed", rate)))
    bucket = TokenBucket(None)
    pacer = Pacer(bucket)
    stop = time.monotonic() + args.seconds
    body = bytes(1 << 20)

    def upload() -> None:  # what botocore does with a metered body: read(128 KiB) until done
        stream = io.BytesIO(body)
        while time.monotonic() < stop:
            if not stream.read(bucket.take(131072)):
                stream.seek(0)

    cpu0, t0 = os.times(), time.monotonic()
    with pacer.running():
        threads = [threading.Thread(target=upload) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu1, elapsed = os.times(), time.monotonic() - t0
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    print(
        f"{args.kbit:.0f} kbit/s ({rate / 1024:.1f} KiB/s), 4 threads, {elapsed:.1f} s: "
        f"sent {bucket.sent / elapsed / 1024:.1f} KiB/s ({bucket.sent / elapsed / rate:.1%} of the limit); "
        f"CPU {cpu:.2f} s = {cpu / elapsed:.2%} of one core (target < 2%)"
    )


if __name__ == "__main__":
    main()
