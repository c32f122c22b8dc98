"""Status: what each destination of this backup set holds, and how much of the latest selection is safe there.

"% backed up" is computed from what a destination is known to hold, byte for byte: the bytes of
the latest snapshot's files whose every content blob sits in a pack that destination holds,
divided by the bytes of all its files. So it is right the moment a copy or an upload confirms
a pack, not when some counter catches up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from engine.repo.blob import BlobType
from engine.repo.snapshot import Snapshot
from engine.repo.tree import Kind, decode_tree
from engine.session import Session

__all__ = ["DestinationStatus", "destination_status", "selection_files"]


@dataclass(frozen=True)
class DestinationStatus:
    location: str
    packs: int
    bytes_held: int
    bytes_backed_up: int
    selection_bytes: int

    @property
    def percent(self) -> float:
        return 100.0 * self.bytes_backed_up / self.selection_bytes if self.selection_bytes else 100.0

    def to_json(self) -> dict:
        return asdict(self) | {"percent_backed_up": round(self.percent, 2)}


def selection_files(session: Session, snap: Snapshot) -> list[tuple[int, tuple[bytes, ...]]]:
    """(size, content blob ids) of every file in the snapshot."""
    store = session.reader
    out, stack, seen = [], [snap.tree_id], set()
    while stack:
        tree_id = stack.pop()
        for entry in decode_tree(store.get(BlobType.TREE, tree_id)):
            if entry.kind == Kind.DIR and entry.subtree not in seen:
                seen.add(entry.subtree)
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
    return DestinationStatus(location, len(held), sum(held.values()), safe, sum(size for size, _ in files))
