#!/usr/bin/env python3
"""Start-up of the desktop app: process start to menu-bar icon (or window) shown, median of 5.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/app_startup.py

The app runs against a real repository in a temporary installation, with its passphrase in the
environment (as the keychain would give it), and quits as soon as its first event-loop turn has
run (`--startup-time`). Target: <= 1.5 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="backbeat-startup-"))
    env = {**os.environ, "BACKBEAT_HOME": str(work / "home"), "BACKBEAT_PASSWORD": "startup"}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    (work / "src").mkdir()
    (work / "src" / "a.txt").write_text("a")
    init = [sys.executable, "-m", "engine", "init", "--repo", str(work / "repo")]
    subprocess.run(init, env=env, check=True, stdout=subprocess.DEVNULL)
    settings = f'{{"folders": ["{work / "src"}"], "destination": "{work / "repo"}"}}'
    (work / "home" / "settings.json").write_text(settings)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "app", "--startup-time"], env=env, capture_output=True, text=True)
        if "ready" not in out.stdout:
            raise SystemExit(f"the app did not start: {out.stderr}")
        times.append(time.perf_counter() - t0)
    print(
        f"app start-up to icon/window shown: median {statistics.median(times):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)}); target <= 1.5 s"
    )


if __name__ == "__main__":
    main()
