"""What the engine tells its callers, as plain frozen data: no Qt, no callbacks into callers.

The CLI renders these as a progress bar and a summary; the app turns them into Qt signals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

__all__ = [
    "FileSkipped",
    "Progress",
    "NetworkWait",
    "LockWait",
    "Checkpoint",
    "BackupSummary",
    "RestoreSummary",
    "EventSink",
]


@dataclass(frozen=True)
class FileSkipped:
    """A path left out of a run. `warning` ones make the run finish with exit code 3."""

    path: str
    reason: str
    warning: bool = True


@dataclass(frozen=True)
class Progress:
    phase: str  # "scanning", "backing up", "uploading", "restoring", "checking", "finishing"
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    current: str = ""
    rate: float = 0.0  # bytes per second, over the last few seconds
    eta_seconds: float | None = None
    #: why nothing moves, when uploads are held: "paused by you until 14:00", "paused: … on battery"
    held: str = ""
    #: the job it is of when it is not the backup of the destination itself ("seed export"): a front
    #: end running several jobs at once shows each where it belongs
    job: str = ""


@dataclass(frozen=True)
class Checkpoint:
    """A long run made what has arrived so far restorable."""

    snapshot_id: str
    files: int
    bytes_sent: int


@dataclass(frozen=True)
class NetworkWait:
    """A destination did not answer; the work waits `seconds` and tries again (it never gives up)."""

    destination: str
    reason: str
    seconds: float


@dataclass(frozen=True)
class LockWait:
    """Another job holds the destination (a prune, perhaps on another computer); the work waits."""

    destination: str
    #: who: "prune on Als-MacBook, started 4 min ago"
    holder: str
    seconds: float


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
    #: files whose content is only in the cloud (iCloud placeholders) and had no earlier copy to carry
    cloud_only: int = 0
    cloud_only_bytes: int = 0
    #: of the files only in the cloud, those downloaded to be read (the user's choice), then given back
    cloud_downloaded: int = 0
    #: originals that Photos libraries keep only in iCloud (Optimize Mac Storage): not in the backup
    photos_in_icloud: int = 0
    #: items the system marks as not worth backing up (cache folders, Time Machine exclusions), left out
    left_out: int = 0

    def to_json(self) -> dict:
        return _json(self)


@dataclass(frozen=True)
class RestoreSummary:
    files: int
    dirs: int
    links: int
    bytes: int
    duration: float
    failed: tuple[FileSkipped, ...] = field(default_factory=tuple)
    #: files found in the target the same as in the snapshot (size and mtime), left as they are: a
    #: restore run again after it was cut off, or in place, writes only the rest
    already_there: int = 0
    #: items not restored because something different of that name is there (kept: not asked to replace)
    kept: tuple[FileSkipped, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return _json(self)


def _json(summary: BackupSummary | RestoreSummary) -> dict:
    doc = asdict(summary)
    doc["duration"] = round(doc["duration"], 3)
    return doc


EventSink = Callable[[object], None]
