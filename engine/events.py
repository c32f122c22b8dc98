"""What the engine tells its callers, as plain frozen data: no Qt, no callbacks into callers.

The CLI renders these as a progress bar and a summary; the app turns them into Qt signals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["FileSkipped", "Progress", "BackupSummary", "RestoreSummary", "EventSink"]


@dataclass(frozen=True)
class FileSkipped:
    """A path left out of a run. `warning` ones make the run finish with exit code 3."""

    path: str
    reason: str
    warning: bool = True


@dataclass(frozen=True)
class Progress:
    phase: str  # "scanning", "backing up", "restoring", "checking", "finishing"
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    current: str = ""
    rate: float = 0.0  # bytes per second, over the last few seconds
    eta_seconds: float | None = None


@dataclass(frozen=True)
class BackupSummary:
    snapshot_id: str
    files_new: int
    files_changed: int
    files_unchanged: int
    dirs: int
    bytes_read: int
    bytes_added: int
    blobs_added: int
    duration: float
    warnings: int
    skipped: tuple[FileSkipped, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {
            "snapshot_id": self.snapshot_id,
            "files_new": self.files_new,
            "files_changed": self.files_changed,
            "files_unchanged": self.files_unchanged,
            "dirs": self.dirs,
            "bytes_read": self.bytes_read,
            "bytes_added": self.bytes_added,
            "blobs_added": self.blobs_added,
            "duration": round(self.duration, 3),
            "warnings": self.warnings,
            "skipped": [{"path": s.path, "reason": s.reason, "warning": s.warning} for s in self.skipped],
        }


@dataclass(frozen=True)
class RestoreSummary:
    files: int
    dirs: int
    links: int
    bytes: int
    duration: float
    failed: tuple[FileSkipped, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {
            "files": self.files,
            "dirs": self.dirs,
            "links": self.links,
            "bytes": self.bytes,
            "duration": round(self.duration, 3),
            "failed": [{"path": s.path, "reason": s.reason} for s in self.failed],
        }


EventSink = Callable[[object], None]
