"""Find a file by name across every backup: each distinct version once, with the newest backup
that holds it (what the user restores) and how many hold it.

A name matches when it contains the words typed (case-insensitive, as Finder searches), or
matches a pattern with `*` or `?`. Backups share most of their folders (an unchanged folder is
the same listing, stored once), so each listing is searched once, whichever backups hold it: a
search over a year of hourly backups costs little more than one over the newest. A listing that
cannot be read is skipped (check reports it); what it holds is not found.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.base.errors import IntegrityError
from engine.repo.blobstore import BlobStore
from engine.repo.snapshot import Snapshot
from engine.repo.tree import Kind, TreeEntry
from engine.repo.walk import folder_entries

__all__ = ["Version", "find_versions", "name_matcher"]


@dataclass(frozen=True)
class Version:
    #: relative to the backup's folder, as the restore page and `--include` take it
    path: str
    kind: Kind
    size: int
    mtime_ns: int
    #: the newest backup holding this version, and when it was made
    snapshot_id: str
    snapshot_time: datetime
    #: how many backups hold this very version (same path, size and modification time; a folder: same path)
    backups: int


def name_matcher(query: str) -> Callable[[bytes], bool]:
    """What a typed query matches: a pattern with * or ?, else every word anywhere in the name."""
    text = query.strip().lower()
    if any(c in text for c in "*?["):
        return lambda name: fnmatch.fnmatchcase(os.fsdecode(name).lower(), text)
    words = text.split()
    return lambda name: all(w in os.fsdecode(name).lower() for w in words)


def find_versions(
    store: BlobStore, snapshots: list[Snapshot], query: str, limit: int = 500
) -> tuple[list[Version], bool]:
    """The versions whose name matches `query`, by path and, for one path, the newest modified
    first; True when more than `limit` matched (the user types more of the name)."""
    match = name_matcher(query)
    memo: dict[bytes, list[tuple[bytes, TreeEntry]]] = {}
    seen: dict[tuple[bytes, int, int], list] = {}
    for snap in sorted(snapshots, key=lambda s: s.time_ns, reverse=True):
        for rel, entry in _matches(store, snap.tree_id, match, memo):
            # a folder is one "version" whatever its times: what the user restores is what it holds
            key = (rel, -1, -1) if entry.kind == Kind.DIR else (rel, entry.size, entry.mtime_ns)
            if key in seen:
                seen[key][1] += 1
            else:
                seen[key] = [snap, 1, entry]
    found = [
        Version(os.fsdecode(rel), entry.kind, entry.size, entry.mtime_ns, snap.id, snap.time, count)
        for (rel, _, _), (snap, count, entry) in seen.items()
    ]
    found.sort(key=lambda v: (v.path, -v.mtime_ns))
    return found[:limit], len(found) > limit


def _matches(
    store: BlobStore, tree_id: bytes, match: Callable[[bytes], bool], memo: dict
) -> list[tuple[bytes, TreeEntry]]:
    """Matching entries under a listing (paths relative to it), each listing searched once
    (`memo`). Depth first with a stack of its own: any depth is searched."""
    if tree_id in memo:
        return memo[tree_id]
    # a frame: the listing, its entries still to look at, what matched in it, its name in its parent
    stack = [(tree_id, _listing(store, tree_id), [], b"")]
    while True:
        tree, entries, found, name = stack[-1]
        for entry in entries:
            if match(entry.name):
                found.append((entry.name, entry))
            if entry.kind == Kind.DIR:
                if entry.subtree in memo:
                    found.extend((os.path.join(entry.name, p), e) for p, e in memo[entry.subtree])
                else:
                    stack.append((entry.subtree, _listing(store, entry.subtree), [], entry.name))
                    break
        else:
            memo[tree] = found
            stack.pop()
            if not stack:
                return found
            stack[-1][2].extend((os.path.join(name, p), e) for p, e in found)


def _listing(store: BlobStore, tree_id: bytes):
    return folder_entries(store, tree_id, failed=lambda e: None, catch=IntegrityError)
