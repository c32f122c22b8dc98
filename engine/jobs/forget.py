"""Forget: apply the retention policy to one destination, removing the snapshots it drops.

Only snapshot records go: their data stays until `engine.jobs.prune` finds that nothing else needs
it. Deleted files are found here, from the trees (the policy itself is pure, in
`engine.config.retention`): walking a group's complete snapshots from the newest back, a file first met
in an older snapshot is one deleted since; if its deletion (the next snapshot's time) is within
`deleted_days`, the snapshot holding its last copy is pinned. A folder already walked under the
same path with the same tree id is skipped, so unchanged folders cost nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, tzinfo

from engine.base.errors import BackbeatError, ObjectNotFound
from engine.config.retention import RetentionPolicy
from engine.jobs.keep import Decision, evaluate, group_of
from engine.jobs.needs import Needs, require
from engine.jobs.rollback import forget_seen
from engine.jobs.session import Session
from engine.repo.blobstore import BlobStore
from engine.repo.snapshot import Snapshot, delete_snapshot, load_snapshots
from engine.repo.tree import Kind
from engine.repo.walk import folder_entries

__all__ = ["NEEDS", "ForgetReport", "run_forget", "deleted_file_pins", "describe_decision"]

#: beside backups: it deletes snapshots only, never data
NEEDS = Needs("forget", lock="shared")

_DAY_NS = 86400 * 10**9


@dataclass
class ForgetReport:
    policy: str
    decisions: list[Decision]
    dry_run: bool

    @property
    def kept(self) -> list[Decision]:
        return [d for d in self.decisions if d.keep]

    @property
    def dropped(self) -> list[Decision]:
        return [d for d in self.decisions if not d.keep]

    def to_json(self) -> dict:
        return {
            "policy": self.policy,
            "dry_run": self.dry_run,
            "kept": [_brief(d) for d in self.kept],
            "dropped": [_brief(d) for d in self.dropped],
        }


def _brief(d: Decision) -> dict:
    s = d.snapshot
    return {"id": s.id, "time": s.time.isoformat(timespec="seconds"), "host": s.host, "reasons": list(d.reasons)}


def describe_decision(d: Decision) -> str:
    """One line of `backbeat forget`'s list."""
    s = d.snapshot
    where = (os.path.basename(s.paths[0]) + (f" +{len(s.paths) - 1}" if len(s.paths) > 1 else "")) if s.paths else ""
    verb = "keep" if d.keep else "drop"
    return f"{verb} {s.short_id}  {s.time:%Y-%m-%d %H:%M}  {s.host}  {where}  — {', '.join(d.reasons)}"


def _collect(store: BlobStore, tree_id: bytes, rel: bytes, seen: set[bytes], walked: set[tuple[bytes, bytes]]) -> int:
    """Add the snapshot's file paths under `rel` to `seen`; returns how many were not there yet."""
    if (rel, tree_id) in walked:
        return 0
    walked.add((rel, tree_id))
    new = 0
    for entry in folder_entries(store, tree_id):
        path = rel + b"/" + entry.name if rel else entry.name
        if entry.kind == Kind.DIR:
            new += _collect(store, entry.subtree, path, seen, walked)
        elif path not in seen:
            seen.add(path)
            new += 1
    return new


def deleted_file_pins(
    store: BlobStore, snaps: list[Snapshot], policy: RetentionPolicy, now_ns: int, tz: tzinfo | None = None
) -> dict[str, str]:
    """snapshot id -> why it must stay: it holds the last copy of files deleted within `deleted_days`."""
    pins: dict[str, str] = {}
    if not policy.deleted_days:
        return pins
    window = policy.deleted_days * _DAY_NS
    groups: dict[tuple, list[Snapshot]] = {}
    for s in snaps:
        if not s.checkpoint:
            groups.setdefault(group_of(s), []).append(s)
    for members in groups.values():
        members.sort(key=lambda s: s.time_ns, reverse=True)  # newest first
        seen: set[bytes] = set()
        walked: set[tuple[bytes, bytes]] = set()
        for newer, older in zip(members, members[1:], strict=False):
            if now_ns - newer.time_ns >= window:
                break  # files deleted before `newer` was made are past the window
            try:
                if newer is members[0]:
                    _collect(store, newer.tree_id, b"", seen, walked)
                gone = _collect(store, older.tree_id, b"", seen, walked)
            except BackbeatError as e:
                pins[older.id] = f"could not be read completely ({e}): kept"
                continue
            if gone:
                until = datetime.fromtimestamp((newer.time_ns + window) / 1e9, tz).strftime("%Y-%m-%d")
                pins[older.id] = f"last copy of {gone} deleted file{'' if gone == 1 else 's'} (kept until {until})"
    return pins


def run_forget(
    session: Session, policy: RetentionPolicy, now_ns: int, dry_run: bool = False, tz: tzinfo | None = None
) -> ForgetReport:
    require(session, NEEDS)
    repo = session.repo
    snaps = load_snapshots(repo.backend, repo.key)
    pins = deleted_file_pins(session.reader, snaps, policy, now_ns, tz)
    report = ForgetReport(policy.describe(), evaluate(snaps, policy, tz, pins), dry_run)
    if dry_run:
        return report
    gone = set()
    for d in report.dropped:
        try:
            delete_snapshot(repo.backend, d.snapshot.id)
        except ObjectNotFound:
            pass  # removed meanwhile (a continuous backup replacing its last snapshot)
        gone.add(d.snapshot.id)
    forget_seen(session, gone)
    open_checkpoints = session.state.open_checkpoints()
    if gone & open_checkpoints.keys():
        session.state.set_open_checkpoints({k: v for k, v in open_checkpoints.items() if k not in gone})
    return report
