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
from engine.base.units import format_bytes
from engine.jobs.session import Session
from engine.platform import photos
from engine.repo.index import Index
from engine.repo.snapshot import Snapshot
from engine.repo.tree import Kind
from engine.repo.walk import folder_entries

__all__ = ["overview", "DestinationStatus", "counted_selection", "status_basis", "left_in_icloud", "describe_icloud"]


def describe_icloud(files: int, nbytes: int) -> str:
    """Files only in iCloud that a backup did not take, in plain words, with what to do."""
    return (
        f"{files} file(s) ({format_bytes(nbytes)}) are only in iCloud, not on this Mac, and were not backed up. "
        "To back them up, select them in Finder and choose Download Now (or turn off Optimize Mac Storage in "
        "iCloud settings); the next backup takes them. Or let Backbeat download each, back it up and free its "
        'space again: Settings, "Download files that are only in iCloud".'
    )


def left_in_icloud(latest: Snapshot | None) -> str | None:
    """What the latest backup left in iCloud, files and Photos originals, in plain words with what
    to do; None when it left nothing there."""
    summary = latest.summary if latest is not None else {}
    files, originals = int(summary.get("cloud_only", 0)), int(summary.get("photos_in_icloud", 0))
    said = [describe_icloud(files, int(summary.get("cloud_only_bytes", 0)))] if files else []
    said += [photos.describe(originals)] if originals else []
    return "\n".join(said) or None


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


def _measure(session: Session, snap: Snapshot, helds: list[Container[bytes]]) -> tuple[int, list[int]]:
    """(bytes of every file this computer can read the listing of, per destination holding the
    packs of `helds` the bytes of those a restore from it gives back), in one walk of the snapshot
    for all destinations. A folder counts at a destination only when its listing (every part of
    it) is in a held pack, and so does everything under it; a folder stored twice counts twice (as
    a restore writes it twice)."""
    store, index = session.reader, session.index
    total, safe = 0, [0] * len(helds)
    # (a folder's tree, per destination: whether the folder holding it is reachable there)
    stack = [(snap.tree_id, [True] * len(helds))]
    unreadable = (IntegrityError, BackendError)
    while stack:
        tree_id, reachable = stack.pop()
        parts: set[bytes] = set()
        entries = list(folder_entries(store, tree_id, parts, failed=lambda e: None, catch=unreadable))
        # looked up once the tree is read: reading it loads the index files the index did not know yet
        packs = [_pack_of(index, b) for b in (tree_id, *parts)]
        reachable = [r and all(p in held for p in packs) for r, held in zip(reachable, helds, strict=True)]
        for entry in entries:
            if entry.kind == Kind.DIR:
                stack.append((entry.subtree, reachable))
            elif entry.kind == Kind.FILE:
                total += entry.size
                if any(reachable):
                    packs = [_pack_of(index, b) for b in entry.ids]
                    for n, held in enumerate(helds):
                        if reachable[n] and all(p in held for p in packs):
                            safe[n] += entry.size
    return total, safe


def _pack_of(index: Index, blob_id: bytes) -> bytes | None:
    entry = index.get(blob_id)
    return entry.pack_id if entry is not None else None


def _destination_status(
    session: Session, location: str, held: dict[bytes, int], measured: tuple[int, int], snap: Snapshot | None
) -> DestinationStatus:
    """`measured`: (the selection's bytes, those a restore from this destination gives back)."""
    total, safe = measured
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
    helds = [session.state.held(loc) for loc in locations]
    total, safe = _measure(session, latest, helds) if latest is not None else (0, [0] * len(helds))
    total = max(total, counted_selection(snapshots, latest))  # what the newest full scan counted, when more
    return latest, [
        _destination_status(session, loc, held, (total, done), latest)
        for loc, held, done in zip(locations, helds, safe, strict=True)
    ]


def status_basis(snapshots: list[Snapshot]) -> Snapshot | None:
    """The latest snapshot, or the newest checkpoint when one is newer (its run was interrupted:
    it holds at least what the latest snapshot held, and what that run had sent)."""
    complete = [s for s in snapshots if not s.checkpoint]
    latest = complete[-1] if complete else None
    checkpoints = [s for s in snapshots if s.checkpoint and (latest is None or s.time_ns > latest.time_ns)]
    return checkpoints[-1] if checkpoints else latest
