#!/usr/bin/env python3
"""Long first uploads: how honest the finish time is, how soon documents are safe, what the order costs.

    python bench/long_upload.py [--scale 8] [--rate 2M]

Against a real S3 server on loopback (rclone serve s3), throttled by Backbeat's own limiter:
1. ETA error: a backup of a generated home folder at a fixed limit; the finish time predicted
   when 10% of the upload was sent, against the actual finish (error as a share of the run).
2. Documents protected: the same home folder with checkpoints every 2 s, uploaded in the smart
   order and in plain path order; the time until checkpoints cover 50% of the documents (by count).
   Packs of 1 MiB: at this small scale 8 MiB packs would make the pipeline's depth (two packs in
   flight) weigh more than the order; on a real first upload of weeks it is negligible.
3. Cost on a fast line: a backup of the 256 MiB generated home tree to a local folder in both orders
   (median of 3), so the order is shown not to slow a fast destination.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.datasets import generate  # noqa: E402
from bench.homefolder import make_home  # noqa: E402
from engine.base.events import Checkpoint, Progress  # noqa: E402
from engine.base.units import parse_size  # noqa: E402
from engine.config.priority import kind_of  # noqa: E402
from engine.service import BackupService  # noqa: E402
from tests.s3server import S3Server  # noqa: E402

PASSWORD = "long upload bench"


def _fresh(work: Path, name: str) -> None:
    os.environ["BACKBEAT_HOME"] = str(work / f"home-{name}")


def eta_error(server: S3Server, src: Path, rate: int, work: Path) -> None:
    _fresh(work, "eta")
    location = server.location(server.bucket("bench-eta"))
    BackupService(location).init(PASSWORD)
    seen: list[tuple[float, Progress]] = []
    service = BackupService(
        location, lambda ev: seen.append((time.monotonic(), ev)) if isinstance(ev, Progress) else None
    )
    service.unlock(PASSWORD)
    service.set_limit(rate)
    t0 = time.monotonic()
    summary = service.backup([str(src)], checkpoint_every=0)
    t1 = time.monotonic()
    uploads = [(t, ev) for t, ev in seen if ev.phase == "uploading" and ev.bytes_total]
    at, ev = next((t, ev) for t, ev in uploads if ev.bytes_done >= 0.1 * ev.bytes_total and ev.eta_seconds)
    predicted = at + ev.eta_seconds
    sent_mb = summary.bytes_added / 1e6
    print(f"ETA at a fixed {rate / 1e6:.1f} MB/s: {sent_mb:.1f} MB sent in {t1 - t0:.1f} s")
    print(
        f"  at {100 * ev.bytes_done / ev.bytes_total:.0f}% ({at - t0:.1f} s in): "
        f"forecast {ev.bytes_total / 1e6:.1f} MB, "
        f"finish predicted at {predicted - t0:.1f} s, actual {t1 - t0:.1f} s: "
        f"error {100 * abs(predicted - t1) / (t1 - t0):.1f}% of the run (target <= 15%)"
    )


def documents_protected(server: S3Server, src: Path, rate: int, work: Path, order: str) -> float | None:
    _fresh(work, f"docs-{order}")
    location = server.location(server.bucket(f"bench-docs-{order}"))
    BackupService(location).init(PASSWORD, pack_size=1 << 20)  # a short pipeline: the order, not its depth
    docs = sum(1 for d, _, fs in os.walk(src) for f in fs if kind_of(f) == "document")
    t0, reached = time.monotonic(), []
    service: BackupService

    def on_event(ev: object) -> None:
        if isinstance(ev, Checkpoint) and not reached:
            covered = sum(
                1
                for rel, e in service.list_files(ev.snapshot_id)
                if e.kind.name == "FILE" and kind_of(rel) == "document"
            )
            if covered >= docs / 2:
                reached.append(time.monotonic() - t0)

    service = BackupService(location, on_event)
    service.unlock(PASSWORD)
    service.set_limit(rate)
    t0 = time.monotonic()
    service.backup([str(src)], checkpoint_every=2, order=order)
    total = time.monotonic() - t0
    when = f"{reached[0]:.1f} s" if reached else "not before the end"
    print(f"  {order:>5} order: 50% of {docs} documents protected after {when} (whole upload {total:.1f} s)")
    return reached[0] if reached else total


def fast_line(src: Path, work: Path) -> None:
    times = {}
    for order in ("smart", "path"):
        runs = []
        for i in range(3):
            _fresh(work, f"fast-{order}-{i}")
            repo = work / f"fast-{order}-{i}"
            BackupService(str(repo)).init(PASSWORD)
            service = BackupService(str(repo))
            service.unlock(PASSWORD)
            t0 = time.monotonic()
            service.backup([str(src)], checkpoint_every=0, order=order)
            runs.append(time.monotonic() - t0)
            shutil.rmtree(repo)
        times[order] = statistics.median(runs)
    mb = sum(f.stat().st_size for f in src.rglob("*") if f.is_file()) / 1e6
    print(
        f"Fast line (local folder, {mb:.0f} MB): smart order {mb / times['smart']:.0f} MB/s, "
        f"path order {mb / times['path']:.0f} MB/s (median of 3)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=8.0, help="size of the home folder (1 = ~15 MB)")
    ap.add_argument("--rate", default="2M", help="the line's limit for the throttled runs")
    args = ap.parse_args()
    rate = parse_size(args.rate)
    work = Path(tempfile.mkdtemp(prefix="backbeat-longbench-"))
    os.environ.setdefault("BACKBEAT_PASSWORD", PASSWORD)
    os.environ.update(S3Server.env())
    server = S3Server(work / "s3")
    server.start()
    try:
        home = work / "Home"
        make_home(home, scale=args.scale)
        eta_error(server, home, rate, work)
        print(f"Documents protected, checkpoints every 2 s at {rate / 1e6:.1f} MB/s:")
        smart = documents_protected(server, home, rate, work, "smart")
        path = documents_protected(server, home, rate, work, "path")
        print(f"  smart order protects half the documents {path / smart:.1f}x sooner")
        fast_line(generate(work / "dataset", 256, 1), work)
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
