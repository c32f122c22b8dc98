"""Status: what each destination of this backup set holds, and how much of the latest selection is safe there.

The latest selection is the latest snapshot's, or, when a run was interrupted after it saved a
checkpoint, everything that run was backing up (the checkpoint records its size): the first
upload of a home folder shows "71% backed up", not "no snapshot yet".

"% backed up" is what a restore from that destination on a new computer would give back, byte for
byte: the bytes of the latest snapshot's files reached through folder listings (trees) that
destination holds and whose every content blob sits in a pack it holds, divided by the bytes of
the whole selection. The whole selection is what the newest full scan of these folders counted
(snapshots record it), or what the trees this computer can read say, whichever is more: while a
seed drive ships, the cloud holds none of the listings, and a denominator made of the readable
ones said "100% of 0 B". So it is right the moment a copy or an upload confirms a pack.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import asdict, dataclass

from engine.backends.base import list_packs
from engine.base.errors import BackendError, IntegrityError
from engine.jobs.session import Session
from engine.repo.snapshot import Snapshot
from engine.repo.tree import Kind
from engine.repo.walk import folder_entries

__all__ = ["overview", "DestinationStatus", "destination_status", "counted_selection", "status_basis"]


@dataclass(frozen=True)
class DestinationStatus:
    location: str
    packs: int
    bytes_held: int
    bytes_backed_up: int
    selection_bytes: int
    #: when a seed drive exported for this destination is still on its way (wall-clock time of the export)
    seed_exported: float | None = None
    #: the bytes that drive carries for this destination: all of the folders as they were at the
    #: export (what the destination lacked then); they count here once the drive is loaded
    seed_bytes: int | None = None
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


def _measure(session: Session, snap: Snapshot, held: Container[bytes]) -> tuple[int, int]:
    """(bytes of every file this computer can read the listing of, bytes of those a restore from
    the destination holding the packs `held` gives back). A folder counts at the destination only
    when its listing (every part of it) is in a held pack, and so does everything under it; a
    folder stored twice counts twice (as a restore writes it twice)."""
    store, index = session.reader, session.index

    def there(blob_id: bytes) -> bool:
        entry = index.get(blob_id)
        return entry is not None and entry.pack_id in held

    total = safe = 0
    stack = [(snap.tree_id, True)]  # (a folder's tree, whether the folder holding it is reachable there)
    unreadable = (IntegrityError, BackendError)
    while stack:
        tree_id, reachable = stack.pop()
        parts: set[bytes] = set()
        entries = list(folder_entries(store, tree_id, parts, failed=lambda e: None, catch=unreadable))
        # asked once the tree is read: reading it loads the index files the index did not know yet
        reachable = reachable and there(tree_id) and all(there(p) for p in parts)
        for entry in entries:
            if entry.kind == Kind.DIR:
                stack.append((entry.subtree, reachable))
            elif entry.kind == Kind.FILE:
                total += entry.size
                if reachable and all(there(i) for i in entry.ids):
                    safe += entry.size
    return total, safe


def destination_status(
    session: Session, snap: Snapshot | None, location: str, selection_bytes: int = 0
) -> DestinationStatus:
    """`selection_bytes`: the selection's size as its newest full scan counted it (0: unknown)."""
    held = session.state.held(location)
    total, safe = _measure(session, snap, held) if snap is not None else (0, 0)
    total = max(total, selection_bytes)
    seed = session.state.pending_seed(location)
    exported = seed and seed["created"]
    carries = sum(size for size, *_ in seed["objects"].values()) if seed else None
    snap_id = snap.id if snap is not None else None
    checkpoint = snap is not None and snap.checkpoint
    return DestinationStatus(
        location, len(held), sum(held.values()), safe, total, exported, carries, snap_id, checkpoint
    )


def counted_selection(snapshots: list[Snapshot], basis: Snapshot | None) -> int:
    """The selection's size as the newest full scan of the same folders on the same computer, up
    to `basis`, counted it (a continuous backup lists only what changed, so it records none)."""
    if basis is None:
        return 0
    for s in reversed(snapshots):
        if (
            s.time_ns <= basis.time_ns
            and s.computer_id == basis.computer_id
            and s.paths == basis.paths
            and "selection_bytes" in s.summary
        ):
            return int(s.summary["selection_bytes"])
    return 0


def overview(session: Session, snapshots: list[Snapshot]) -> tuple[Snapshot | None, list[DestinationStatus]]:
    """Per destination this computer knows: what it holds, and the % of the latest selection it
    has. The destination of the session is listed afresh (one LIST)."""
    location = session.repo.backend.location
    session.state.set_held(location, list_packs(session.repo.backend))
    latest = status_basis(snapshots)
    locations = sorted(set(session.state.destinations()) | {location})
    counted = counted_selection(snapshots, latest)
    return latest, [destination_status(session, latest, loc, counted) for loc in locations]


def status_basis(snapshots: list[Snapshot]) -> Snapshot | None:
    """The latest snapshot, or the newest checkpoint when one is newer (its run was interrupted:
    it holds at least what the latest snapshot held, and what that run had sent)."""
    complete = [s for s in snapshots if not s.checkpoint]
    latest = complete[-1] if complete else None
    checkpoints = [s for s in snapshots if s.checkpoint and (latest is None or s.time_ns > latest.time_ns)]
    return checkpoints[-1] if checkpoints else latest
