"""Repair: after `check --read-data` found damage at a destination, rebuild what can be rebuilt.

1. A damaged or missing pack, or an unreadable snapshot record, that another destination of this
   backup holds intact (its bytes hash to its name) is copied back from there: nothing is lost.
2. A damaged pack no other destination can replace is *salvaged*: every blob in it that still
   verifies moves to a new pack (as prune repacks), the rest is recorded as lost; the pack goes.
3. The index is rewritten from what is there (prune's writing order): damaged index files go,
   one new index file names every pack no sound index file names, missing packs are dropped.
4. Every snapshot that needs a lost blob is rewritten with those files listed as `damaged`
   (marked, never shortened: its other files restore as before, and restore names the rest).
   A snapshot record that cannot be read, and that no other destination holds intact, is
   removed and reported: nothing can restore from it, and it would stop every prune.

Afterwards the local state matches the destination, so the next backup uploads again the lost
data of any file still on this computer, and later snapshots are whole again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from engine.backends.base import Backend, pack_name
from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.errors import BackbeatError, ObjectNotFound
from engine.base.events import EventSink
from engine.jobs.check import CheckReport, run_check
from engine.jobs.needs import Needs, require
from engine.jobs.prune import PrunePlan, PruneReport, read_plan, repack, rewrite_index, update_state
from engine.jobs.rollback import remember_latest, remember_listing
from engine.jobs.session import Session
from engine.repo.pack import holds_pack, matches_name
from engine.repo.snapshot import delete_snapshot, load_snapshots
from engine.repo.walk import walk_trees

__all__ = ["NEEDS", "RepairReport", "run_repair", "salvage", "mark_snapshots"]

#: alone at the destination: it deletes damaged packs and rewrites the index
NEEDS = Needs("repair", lock="exclusive", lock_wait=0.0, writes=True, paced=True, recorded=True)


@dataclass
class RepairReport:
    problems_found: int = 0
    #: objects copied back intact from another destination
    restored: list[str] = field(default_factory=list)
    packs_salvaged: int = 0
    blobs_lost: int = 0
    index_files_replaced: int = 0
    #: "snapshot abc12345: 3 file(s) marked damaged"
    snapshots_marked: list[str] = field(default_factory=list)
    #: snapshot records that could not be read nor fetched intact from another destination
    snapshots_removed: list[str] = field(default_factory=list)
    #: what repair could not mend
    left: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _good_copy(mirrors: list[Backend], name: str, verify) -> bytes | None:
    for mirror in mirrors:
        try:
            data = mirror.get(name)
        except BackbeatError:
            continue
        if verify(data):
            return data
    return None


def _from_mirrors(session: Session, mirrors: list[Backend], found: CheckReport, report: RepairReport) -> set[bytes]:
    """Put back intact copies of damaged packs, key files, index files and snapshot records (all
    named by the hash of their bytes, so a good copy proves itself); returns the packs still damaged."""
    backend = session.repo.backend
    damaged = {bytes.fromhex(h) for h in found.damaged_packs}
    for pack_id in sorted(damaged):
        name = pack_name(pack_id)
        data = _good_copy(mirrors, name, lambda d, p=pack_id: holds_pack(p, d))
        if data is not None:
            backend.put(name, data)
            report.restored.append(name)
            damaged.discard(pack_id)
    for name in found.damaged_objects:
        try:
            intact = matches_name(name, backend.get(name))
        except ObjectNotFound:
            continue
        data = None if intact else _good_copy(mirrors, name, lambda d, n=name: matches_name(n, d))
        if data is not None:
            backend.put(name, data)
            report.restored.append(name)
    return damaged


def _lost_files(session: Session, tree_id: bytes) -> set[str]:
    """Files of a snapshot whose data is gone from the index, and folders that cannot be read."""
    lost: set[str] = set()

    def uses(blob_id: bytes, path: bytes) -> None:
        if blob_id not in session.index:
            lost.add(os.fsdecode(path))

    def failed(path: bytes, e: BackbeatError) -> None:
        lost.add(os.fsdecode(path) + "/")  # a folder whose listing is gone: all under it

    walk_trees(session.reader, tree_id, None, uses, failed)
    return lost


def mark_snapshots(session: Session) -> tuple[list[str], list[str]]:
    """Every snapshot that needs data no longer indexed is rewritten with those files listed as
    `damaged`; a record nothing can read is removed. Returns (what was marked, what was removed)."""
    marked_said: list[str] = []
    removed_said: list[str] = []
    repo = session.repo
    unreadable: dict[str, str] = {}
    for snap in load_snapshots(repo.backend, repo.key, unreadable):
        lost = _lost_files(session, snap.tree_id)
        if lost <= set(snap.damaged):
            continue
        marked = replace(snap, damaged=sorted(lost | set(snap.damaged)), id="")
        session.outbox.send_snapshot(marked, session.index)
        delete_snapshot(repo.backend, snap.id)
        if (session.state.latest_snapshot(repo.backend.location) or ("",))[0] == snap.id:
            remember_latest(session, marked)
        marked_said.append(f"snapshot {snap.short_id}: {len(lost)} file(s) marked damaged")
    for name, why in unreadable.items():  # nothing can read it: it would only stop every prune
        session.check_lock()
        delete_snapshot(repo.backend, name.rsplit("/", 1)[-1])
        removed_said.append(f"{why}: no other destination holds a good copy, so the record was removed")
    remember_listing(session)
    return marked_said, removed_said


def run_repair(
    session: Session,
    mirrors: list[Backend] = (),
    events: EventSink = lambda ev: None,
    clock: Clock = SYSTEM_CLOCK,
) -> RepairReport:
    """Call through the runner (`NEEDS`): packs are deleted."""
    require(session, NEEDS)
    found = run_check(session, read_data=True, events=events)
    report = RepairReport(problems_found=len(found.errors))
    if found.ok:
        return report
    indexed = set(session.index.ids())
    still_damaged = _from_mirrors(session, list(mirrors), found, report)
    salvaged, plan = salvage(session, still_damaged, events, clock)
    report.packs_salvaged = salvaged
    report.blobs_lost = len(indexed - session.index.ids())
    report.index_files_replaced = len(plan.damaged_files)
    report.left += [f"pack {p.hex()[:16]} cannot be read at all: left in place" for p in sorted(plan.unreadable)]
    report.snapshots_marked, report.snapshots_removed = mark_snapshots(session)
    return report


def salvage(
    session: Session, damaged: set[bytes], events: EventSink, clock: Clock = SYSTEM_CLOCK
) -> tuple[int, PrunePlan]:
    """Every blob of the `damaged` packs that still verifies moves to a new pack (as prune repacks);
    the rest leaves the index, with the packs the destination does not list and damaged index
    files; then the damaged packs go. Under the exclusive lock. Returns (packs salvaged, the plan)."""
    scratch = PruneReport(dry_run=False)
    plan = read_plan(session, scratch)
    for pack_id in sorted(damaged & plan.packs.keys()):
        p = plan.packs[pack_id]
        p.used = {e.blob_id: e for e in p.info.entries}
        plan.repack.append(pack_id)
    lost: set[bytes] = set()
    new_packs = repack(session, plan, events, clock, scratch, lost) if plan.repack else []
    if plan.repack or plan.missing or plan.damaged_files:
        index_files = rewrite_index(session, plan, new_packs)
        session.check_lock()
        for pack_id in set(plan.repack) - {p.pack_id for p in new_packs}:  # a pack whose blobs were all intact
            try:  # is written anew under its own name (format 2 names a pack by its blobs): it stays
                session.repo.backend.delete(pack_name(pack_id))
            except ObjectNotFound:
                pass
        update_state(session, index_files)
    return len(plan.repack), plan
