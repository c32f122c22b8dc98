"""Snapshot records: what was backed up, when, from where, and the root tree that holds it.

A snapshot is sealed JSON under `snapshots/<id>`, written only after every pack and index file
it needs, so a destination never holds a snapshot whose data it lacks. Paths are kept as the
OS gives them (non-UTF-8 bytes survive through surrogate escapes). `base` is the deepest folder
that holds every selected path: the root tree is that folder, holding only the selection.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from engine.backends.base import Backend, readable
from engine.base.errors import IntegrityError, ObjectNotFound, SnapshotNotFound
from engine.repo.crypto import MasterKey, named_by_content, plain_hash

__all__ = ["Snapshot", "save_snapshot", "load_snapshots", "find_snapshot"]

_AAD = b"backbeat snapshot v1"
_log = logging.getLogger(f"backbeat.{__name__}")  # under the product's log: its file, its redaction


@dataclass
class Snapshot:
    time_ns: int
    host: str
    computer_id: str
    base: str
    paths: list[str]
    tree: str
    summary: dict = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    checkpoint: bool = False
    #: files (paths in the snapshot) whose data `check --repair` found lost: marked, never dropped
    damaged: list[str] = field(default_factory=list)
    id: str = ""

    @property
    def short_id(self) -> str:
        return self.id[:8]

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.time_ns / 1e9, UTC).astimezone()

    @property
    def tree_id(self) -> bytes:
        return bytes.fromhex(self.tree)

    @property
    def base_bytes(self) -> bytes:
        return os.fsencode(self.base)


def save_snapshot(backend: Backend, key: MasterKey, snap: Snapshot) -> str:
    doc = asdict(snap)
    doc.pop("id")
    doc["version"] = 1
    data = key.seal(json.dumps(doc, sort_keys=True).encode(), _AAD)
    snap.id = plain_hash(data).hex()
    backend.put(f"snapshots/{snap.id}", data)
    return snap.id


def _load(backend: Backend, key: MasterKey, name: str) -> Snapshot:
    data = backend.get(name)
    if not named_by_content(name, data):
        raise IntegrityError(f"{name} is damaged (its bytes do not match its name)")
    doc = json.loads(key.open(data, _AAD, name))
    if doc.pop("version", None) != 1:
        raise IntegrityError(f"{name} has an unknown version")
    doc["skipped"] = [tuple(s) for s in doc.get("skipped", [])]
    return Snapshot(**doc, id=name.rsplit("/", 1)[-1])


def load_snapshot(backend: Backend, key: MasterKey, snapshot_id: str) -> Snapshot:
    return _load(backend, key, f"snapshots/{snapshot_id}")


def delete_snapshot(backend: Backend, snapshot_id: str) -> None:
    """Only the snapshot: its data stays until prune finds nothing else needs it."""
    backend.delete(f"snapshots/{snapshot_id}")


def load_snapshots(backend: Backend, key: MasterKey, damaged: dict[str, str] | None = None) -> list[Snapshot]:
    """Every snapshot that opens, oldest first. One that does not (damaged, or sealed by another
    repository's key) is left out, logged, and put in `damaged` (name -> why): one bad record must not stop
    backups or hide the other snapshots. Whoever deletes data (prune) must pass `damaged` and stop."""
    snaps = []

    def too_big(name: str, size: int) -> None:
        reason = f"{name} is damaged ({size} bytes: too big for a snapshot record; not read)"
        _log.warning("%s", reason)
        if damaged is not None:
            damaged[name] = reason

    for name in readable(backend, "snapshots/", too_big):
        try:
            snaps.append(_load(backend, key, name))
        except ObjectNotFound:
            continue  # deleted between list and get
        except (IntegrityError, ValueError, TypeError) as e:
            reason = str(e) if isinstance(e, IntegrityError) else f"{name} is damaged (not a snapshot record)"
            _log.warning("%s", reason)
            if damaged is not None:
                damaged[name] = reason
    return sorted(snaps, key=lambda s: s.time_ns)


def find_snapshot(snaps: list[Snapshot], ref: str) -> Snapshot:
    """`latest`, or a unique prefix of a snapshot id."""
    complete = [s for s in snaps if not s.checkpoint] or snaps
    if ref == "latest":
        if not complete:
            raise SnapshotNotFound("the repository has no snapshots yet", hint="Run `backbeat backup` first.")
        return complete[-1]
    matches = [s for s in snaps if s.id.startswith(ref.lower())]
    if len(matches) != 1:
        raise SnapshotNotFound(ref if not matches else f"{ref} is ambiguous")
    return matches[0]
