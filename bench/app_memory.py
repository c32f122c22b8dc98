#!/usr/bin/env python3
"""The menu-bar app's resident memory at idle, with the index of a big home.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/app_memory.py [--blobs 1430000] [--seconds 90]

Makes a local repository whose index files name `--blobs` blobs in packs of 500 (the packs are
sparse files of their listed size: the app lists them, as it does a real destination's, and reads
none at idle), sets the app up to protect a small folder there, starts the real app (`python -m
app`) and samples its memory every half second for `--seconds`: its first backup runs, then it
idles; then starts it again, for as long (it opens the index it saved). Prints, for each start,
the peak and the last resident memory, and the anonymous part of the last (what the app itself
holds; the rest is mapped files, the Qt libraries mostly), against the target: the menu-bar
process idles under 150 MiB with the index of 1.43 M blobs, a home of 500 GB in 1,000,000 files
(`bench/index_memory.py`).
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

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.index_memory import index_files  # noqa: E402
from engine.backends.base import pack_name  # noqa: E402
from engine.backends.local import LocalBackend  # noqa: E402
from engine.jobs.session import open_session  # noqa: E402
from engine.repo.index import encode_index, index_plain  # noqa: E402

PASSWORD = "app-memory"
TARGET_MIB = 150


def big_index(repo: Path, blobs: int) -> None:
    """Index files naming `blobs` blobs, and their packs as sparse files of the listed size."""
    backend = LocalBackend(repo)
    session = open_session(backend, PASSWORD)
    key = session.repo.key
    session.close()
    for packs in index_files(blobs):
        for info in packs:
            path = repo / pack_name(info.pack_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                f.truncate(info.size)
        name, data = encode_index(key, index_plain(packs))
        backend.put(name, data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blobs", type=int, default=1_430_000)
    ap.add_argument("--seconds", type=float, default=90)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backbeat-appmem-"))
    env = {**os.environ, "BACKBEAT_HOME": str(work / "home"), "BACKBEAT_PASSWORD": PASSWORD}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        (work / "src").mkdir()
        for i in range(100):
            (work / "src" / f"note-{i}.txt").write_text(f"note {i}\n" * 50)
        init = [sys.executable, "-m", "engine", "init", "--repo", str(work / "repo")]
        subprocess.run(init, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        os.environ.update(BACKBEAT_HOME=env["BACKBEAT_HOME"])
        big_index(work / "repo", args.blobs)
        settings = {"folders": [str(work / "src")], "destination": str(work / "repo")}
        (work / "home" / "settings.json").write_text(json.dumps(settings))
        runs = [_sampled(env, args.seconds) for _ in ("first start", "next start")]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mib = 2**20
    starts = ("first start (builds its index, and saves it)", "next start (opens the saved index)")
    for start, (last, peak) in zip(starts, runs, strict=True):
        anon = last.rss - last.shared
        print(
            f"the app with an index of {args.blobs} blobs, {start}, after {args.seconds:.0f} s (a backup, then idle): "
            f"resident {last.rss / mib:.0f} MiB (of which about {anon / mib:.0f} MiB its own, the rest mapped files), "
            f"peak {peak / mib:.0f} MiB; target at idle < {TARGET_MIB} MiB"
        )


def _sampled(env: dict[str, str], seconds: float) -> tuple:
    """The real app run for `seconds`: its memory at the end, and its peak resident."""
    app = subprocess.Popen(
        [sys.executable, "-m", "app"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    proc, peak, last = psutil.Process(app.pid), 0, None
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds and app.poll() is None:
        last = proc.memory_full_info()
        peak = max(peak, last.rss)
        time.sleep(0.5)
    app.terminate()
    app.wait(30)
    if last is None:
        raise SystemExit("the app did not start")
    return last, peak


if __name__ == "__main__":
    main()
