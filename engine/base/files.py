"""Small files written whole or not at all (settings, the pause and activity files, a seed's manifest)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, text: str, durable: bool = False, mode: int = 0o600) -> None:
    """Write beside `path`, then rename over it: a reader never sees half a file. `durable` also
    fsyncs first (a drive that may be pulled out); files rewritten every second skip that. The
    file is this user's only (0600) unless `mode` says otherwise: settings and activity say what
    is backed up."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w", encoding="utf-8") as f:
        f.write(text)
        if durable:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
