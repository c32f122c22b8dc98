"""A small, deterministic Mac-like home folder for the long-upload tests and benchmarks.

Recent documents (text, compressible), older documents, photos, a film, a zip and a disk image
(random bytes: media compress no further), in the folders a Mac has, with modification times
spread the way a real home folder's are: the documents of this week, the rest months or years old.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

__all__ = ["make_home", "RECENT_DOCS"]

DAY = 86400.0
RECENT_DOCS = "Documents/Current"


def _write(path: Path, data: bytes, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    when = time.time() - age_days * DAY
    os.utime(path, (when, when))
    return path


def _text(rnd: random.Random, size: int) -> bytes:
    words = [
        rnd.choice(["budget", "letter", "meeting", "invoice", "garden", "school", "notes", "trip"]) for _ in range(64)
    ]
    out = bytearray()
    while len(out) < size:
        out += (" ".join(rnd.choices(words, k=12)) + f" {rnd.random():.6f}\n").encode()
    return bytes(out[:size])


def make_home(root: Path, scale: float = 1.0, seed: int = 0) -> dict[str, list[Path]]:
    """Write the folder; returns its files by kind: recent_docs, old_docs, photos, media, bulk."""
    rnd = random.Random(seed)
    kinds: dict[str, list[Path]] = {k: [] for k in ("recent_docs", "old_docs", "photos", "media", "bulk")}
    n = lambda count: max(1, int(count * scale))  # noqa: E731
    ext = ["docx", "pdf", "txt", "xlsx", "pages"]
    for i in range(n(60)):
        size = rnd.randint(4_000, 40_000)
        age = rnd.uniform(0, 3)
        kinds["recent_docs"].append(_write(root / RECENT_DOCS / f"doc-{i:03}.{ext[i % 5]}", _text(rnd, size), age))
    for i in range(n(20)):
        size = rnd.randint(20_000, 100_000)
        kinds["old_docs"].append(
            _write(root / "Documents" / "Archive" / f"old-{i:03}.{ext[i % 5]}", _text(rnd, size), 400 + i)
        )
    for i in range(n(10)):
        kinds["photos"].append(_write(root / "Pictures" / f"IMG_{i:04}.jpg", rnd.randbytes(300_000), 200 + i))
    kinds["media"].append(_write(root / "Movies" / "holiday.mov", rnd.randbytes(int(3_000_000 * scale)), 60))
    for i in range(3):  # a Mac's Desktop: screen recordings and an installer, ahead of Documents in path order
        recording = root / "Desktop" / f"Screen Recording {i + 1}.mov"
        kinds["media"].append(_write(recording, rnd.randbytes(int(2_000_000 * scale)), 20 + i))
    kinds["bulk"].append(_write(root / "Desktop" / "Installer.dmg", rnd.randbytes(int(6_000_000 * scale)), 30))
    kinds["bulk"].append(_write(root / "Downloads" / "photos-2019.zip", rnd.randbytes(int(2_000_000 * scale)), 90))
    return kinds
