#!/usr/bin/env python3
"""The app's window while it backs up, and then restores, a tree of many small files: how long
the event loop went without turning (a repaint waits that long), in one run; also while the
Restore page lists that backup.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/app_responsiveness.py [--files 200000]

The real app (`app.main.start`) against a real repository in a temporary installation; a 10 ms
timer on the GUI thread records each gap between its turns while the backup, then a restore of
the whole snapshot through the Restore page's job, runs on the app's worker threads. Prints one
JSON line: per job its seconds and the gaps' median, 95th and 99th percentile and maximum in ms.
Target (issue 27): every repaint within 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.scale import make_tree  # noqa: E402


def _gaps(app, start, ended) -> tuple[float, list[float]]:
    """Run what `start` begins until `ended()` says how it ended; (its seconds, the event loop's
    gaps in ms meanwhile)."""
    from PySide6.QtCore import QTimer

    gaps, last = [], [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        gaps.append((now - last[0]) * 1000)
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    t0 = time.monotonic()
    start()
    while not (how := ended()):
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    if how.startswith("failed"):
        raise SystemExit(how)
    return time.monotonic() - t0, gaps


def _job(app, bridge, start) -> tuple[float, list[float]]:
    done: list[str] = []
    bridge.job_finished.connect(lambda kind, r: done.append(kind))
    bridge.job_failed.connect(lambda kind, p: done.append(f"failed: {p}"))
    try:
        return _gaps(app, start, lambda: done and done[0])
    finally:
        bridge.job_finished.disconnect()
        bridge.job_failed.disconnect()


def _figures(seconds: float, gaps: list[float]) -> dict:
    q = statistics.quantiles(gaps, n=100)
    return {
        "seconds": round(seconds, 1),
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(max(gaps), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200_000)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="backbeat-responsive-"))
    try:
        _measure(work, args.files)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(work: Path, files: int) -> None:
    """Back up, list and restore `files` small files in a real window, and print its slowest moments."""
    os.environ["BACKBEAT_HOME"] = str(work / "home")
    src = work / "src"
    src.mkdir()
    size = make_tree(src, files, 500, seed=3)

    from PySide6.QtWidgets import QApplication

    from app.main import start
    from engine.config.settings import Settings, save_settings
    from engine.service import BackupService

    service = BackupService(str(work / "repo"))
    service.init("responsiveness bench")
    service.close()
    save_settings(Settings(folders=(str(src),), destination=str(work / "repo")))
    app = QApplication(sys.argv[:1])
    bridge, tray, window = start(app, "responsiveness bench", protect=False)
    window.show()
    backup = _figures(*_job(app, bridge, bridge.backup_now))
    page = window.restore
    listed = _figures(
        *_gaps(
            app,
            lambda: window.show_page("Restore"),
            lambda: "listed" if page.tree.topLevelItemCount() and not page._filling.isActive() else "",
        )
    )
    target = str(work / "restored")
    restore = _figures(*_job(app, bridge, lambda: bridge.run_job("restore", lambda s: s.restore("latest", target))))
    bridge.close()
    figures = {"backup": backup, "restore page listing": listed, "restore": restore}
    print(json.dumps({"files": files, "bytes": size, **figures, "target_ms": 100}))


if __name__ == "__main__":
    main()
