"""Status: what each destination of this backup set holds, and how much of the latest selection is safe there.

The latest selection is the latest snapshot's, or, when a run was interrupted after it saved a
checkpoint, everything that run was backing up (the checkpoint records its size): the first
upload of a home folder shows "71% backed up", not "no snapshot yet".

"% backed up" is computed from what a destination is known to hold, byte for byte: the bytes of
the latest snapshot's files whose every content blob sits in a pack that destination holds,
divided by the bytes of all its files. So it is right the moment a copy or an upload confirms
a pack, not when some counter catches up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from engine.backends.base import list_packs
from engine.base.errors import BackendError, IntegrityError
from engine.jobs.session import Session
from engine.repo.snapshot import Snapshot
from engine.repo.tree import Kind
from engine.repo.walk import folder_entries

__all__ = ["overview", "DestinationStatus", "destination_status", "selection_files", "status_basis"]


@dataclass(frozen=True)
class DestinationStatus:
    location: str
    packs: int
    bytes_held: int
    bytes_backed_up: int
    selection_bytes: int
    #: when a seed drive exported for this destination is still on its way (wall-clock time of the export)
    seed_exported: float | None = None
    #: the snapshot the figures are of: the latest, or the checkpoint of a run that was interrupted
    #: since; None before any backup (then nothing is backed up, whatever the sizes say)
    snapshot_id: str | None = None
    checkpoint: bool = False

    @property
    def percent(self) -> float:
        if not self.selection_bytes:
            return 100.0 if self.snapshot_id is not None else 0.0
        return 100.0 * self.bytes_backed_up / self.selection_bytes

    def to_json(self) -> dict:
        return asdict(self) | {"percent_backed_up": round(self.percent, 2)}


def selection_files(session: Session, snap: Snapshot) -> list[tuple[int, tuple[bytes, ...]]]:
    """(size, content blob ids) of every file in the snapshot whose folder can still be read (a
    folder whose tree was lost at the destination is left out: its files cannot be counted)."""
    store = session.reader
    out, stack = [], [snap.tree_id]  # a folder stored twice (same tree) holds its files twice: no dedup here
    while stack:
        tree_id = stack.pop()
        for entry in folder_entries(store, tree_id, failed=lambda e: None, catch=(IntegrityError, BackendError)):
            if entry.kind == Kind.DIR:
                stack.append(entry.subtree)
            elif entry.kind == Kind.FILE:
                out.append((entry.size, entry.ids))
    return out


def destination_status(session: Session, snap: Snapshot | None, location: str) -> DestinationStatus:
    held = session.state.held(location)
    files = selection_files(session, snap) if snap is not None else []
    index = session.index
    safe = 0
    for size, ids in files:
        entries = [index.get(i) for i in ids]
        if all(e is not None and e.pack_id in held for e in entries):
            safe += size
    seed = session.state.pending_seed(location)
    total = sum(size for size, _ in files)
    if snap is not None and snap.checkpoint:  # an interrupted run: measured against all it was backing up
        total = max(total, int(snap.summary.get("selection_bytes", total)))
    exported = seed and seed["created"]
    snap_id = snap.id if snap is not None else None
    checkpoint = snap is not None and snap.checkpoint
    return DestinationStatus(location, len(held), sum(held.values()), safe, total, exported, snap_id, checkpoint)


def overview(session: Session, snapshots: list[Snapshot]) -> tuple[Snapshot | None, list[DestinationStatus]]:
    """Per destination this computer knows: what it holds, and the % of the latest selection it
    has. The destination of the session is listed afresh (one LIST)."""
    location = session.repo.backend.location
    session.state.set_held(location, list_packs(session.repo.backend))
    latest = status_basis(snapshots)
    locations = sorted(set(session.state.destinations()) | {location})
    return latest, [destination_status(session, latest, loc) for loc in locations]


def status_basis(snapshots: list[Snapshot]) -> Snapshot | None:
    """The latest snapshot, or the newest checkpoint when one is newer (its run was interrupted:
    it holds at least what the latest snapshot held, and what that run had sent)."""
    complete = [s for s in snapshots if not s.checkpoint]
    latest = complete[-1] if complete else None
    checkpoints = [s for s in snapshots if s.checkpoint and (latest is None or s.time_ns > latest.time_ns)]
    return checkpoints[-1] if checkpoints else latest
