"""The household harness, short (a 30 s window): on an emulated 1.3 Mbit/s DSL line, "Keep my internet usable" keeps the
household's round trips within 50 ms of idle while using at least 80% of the line, and a pause silences the
line within a second. Needs root and network namespaces (CI has both); skipped elsewhere."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.household import namespaces_available

HARNESS = Path(__file__).resolve().parents[2] / "bench" / "household.py"


@pytest.mark.slow
@pytest.mark.skipif(namespaces_available() is not None, reason=f"household harness: {namespaces_available()}")
def test_automatic_mode_keeps_the_line_usable_and_uses_it():
    cmd = [sys.executable, str(HARNESS), "--modes", "automatic", "--seconds", "30", "--pause-test"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(doc))
    assert doc["probe_p95_ms"] <= doc["baseline_p50_ms"] + 50, doc
    assert doc["utilization"] >= 0.80, doc
    assert doc["pause_stopped_s"] <= 1.0 and doc["bytes_after_1s"] == 0, doc
    assert doc["resume_s"] is not None and doc["resume_s"] <= 2.0, doc
