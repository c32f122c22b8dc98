"""Small files written whole or not at all (settings, the pause and activity files, a seed's manifest)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, text: str, durable: bool = False) -> None:
    """Write beside `path`, then rename over it: a reader never sees half a file. `durable` also
    fsyncs first (a drive that may be pulled out); files rewritten every second skip that."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
