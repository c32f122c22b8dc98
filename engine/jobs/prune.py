"""Prune: remove the data no snapshot needs any more at one destination, never what one does.

What is used is found from the destination itself: its index files, the headers of packs no
index names (a killed run's), and every tree of every snapshot. A pack nothing uses is deleted.
A pack partly unused is *repacked* (its used blobs verified and copied, sealed as they are, into
new packs) while that is worth it: until at most `max_unused` of the stored bytes stay unused,
and, on a network destination, no more than `repack_budget` bytes re-uploaded per prune (the
rest waits for the next one). A disk reclaims everything: copying there costs no network.

The order makes `kill -9` harmless at any moment:
1. repacked blobs go to new packs (journaled like a backup's: a killed prune's are recovered);
2. a new index file names every pack that stays, then the old index files are deleted;
3. only then are the packs that nothing names deleted.
Before 2 the old index names everything (the new packs are extra copies that the next prune
removes); during 2 the union of index files still names every pack that exists; during 3 what is
left is unnamed and unused. Running prune again finishes the job. A tree that cannot be read
stops prune before anything is deleted: what it needs cannot be known.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine.backends.base import list_packs, pack_name
from engine.base.clock import SYSTEM_CLOCK, Clock
from engine.base.errors import BackbeatError, IntegrityError, ObjectNotFound
from engine.base.events import EventSink
from engine.base.progress import Meter
from engine.config.settings import PruneSettings
from engine.jobs.needs import Needs, require
from engine.jobs.rollback import newest_missing
from engine.jobs.session import Session
from engine.repo.blobstore import BlobStore, Sealed
from engine.repo.index import Index, PackInfo, parse_index
from engine.repo.pack import PackEntry, open_span
from engine.repo.snapshot import load_snapshots
from engine.repo.walk import walk_trees

__all__ = [
    "NEEDS",
    "PruneReport",
    "PruneStopped",
    "run_prune",
    "read_plan",
    "repack",
    "rewrite_index",
    "update_state",
    "PrunePlan",
]

#: alone at the destination: it deletes packs and index files
NEEDS = Needs("prune", lock="exclusive", lock_wait=0.0, writes=True, paced=True, recorded=True)


class PruneStopped(BackbeatError):
    message = "prune stopped before deleting anything"
    hint = "Run `backbeat check` to see what is damaged; nothing was removed."


@dataclass
class PruneReport:
    dry_run: bool
    snapshots: int = 0
    packs_before: int = 0
    bytes_before: int = 0
    packs_deleted: int = 0
    bytes_deleted: int = 0
    packs_repacked: int = 0
    #: bytes of the new packs that repacking wrote (sent over the network for a bucket)
    bytes_repacked: int = 0
    packs_postponed: int = 0
    #: bytes repacking would reclaim from the postponed packs
    bytes_postponed: int = 0
    bytes_unused_left: int = 0
    bytes_after: int = 0
    duration: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return self.bytes_before - self.bytes_after

    def to_json(self) -> dict:
        return self.__dict__ | {"bytes_freed": self.bytes_freed}


@dataclass
class _Pack:
    info: PackInfo
    #: blob id -> entry, for the used blobs this pack is the kept copy of
    used: dict[bytes, PackEntry] = field(default_factory=dict)

    @property
    def used_bytes(self) -> int:
        return sum(e.length for e in self.used.values())

    @property
    def unused_bytes(self) -> int:
        return sum(e.length for e in self.info.entries) - self.used_bytes


@dataclass
class PrunePlan:
    files: dict[str, list[PackInfo]]
    damaged_files: list[str]
    packs: dict[bytes, _Pack]
    #: at the destination, but neither named by an index nor readable
    unreadable: set[bytes]
    #: named by an index, not at the destination
    missing: set[bytes]
    delete: set[bytes] = field(default_factory=set)
    repack: list[bytes] = field(default_factory=list)
    postponed: list[bytes] = field(default_factory=list)


def read_plan(session: Session, report: PruneReport) -> PrunePlan:
    repo = session.repo
    files: dict[str, list[PackInfo]] = {}
    damaged = []
    for name in repo.index_names():
        try:
            files[name] = list(parse_index(repo.read_index(name)))
        except IntegrityError:
            damaged.append(name)  # its packs are read from their own headers below
        except ObjectNotFound:
            continue
    present = list_packs(repo.backend)
    report.packs_before, report.bytes_before = len(present), sum(present.values())
    packs: dict[bytes, _Pack] = {}
    missing = set()
    for infos in files.values():
        for info in infos:
            if info.pack_id not in present:
                missing.add(info.pack_id)
            else:
                packs.setdefault(info.pack_id, _Pack(info))
    unreadable = set()
    for pack_id in present.keys() - packs.keys():
        try:
            packs[pack_id] = _Pack(repo.pack_header(pack_id))
        except (IntegrityError, ObjectNotFound):
            unreadable.add(pack_id)
    if missing:
        report.warnings.append(f"{len(missing)} pack(s) named by the index are missing (see `backbeat check`)")
    if unreadable:
        report.warnings.append(f"{len(unreadable)} damaged pack(s) were left alone (see `backbeat check --read-data`)")
    return PrunePlan(files, damaged, packs, unreadable, missing)


def _used_blobs(session: Session, plan: PrunePlan, report: PruneReport) -> set[bytes]:
    """Every blob some snapshot needs: its trees and its files' content."""
    index = Index()
    for p in plan.packs.values():
        index.add_pack(p.info, pending=False)
    store = BlobStore(session.repo.key, index, session.repo.backend)
    unreadable: dict[str, str] = {}
    snaps = load_snapshots(session.repo.backend, session.repo.key, unreadable)
    if unreadable:  # what it needs is unknown: deleting anything could lose it
        first = next(iter(unreadable.values()))
        raise PruneStopped(f"{first}; nothing was deleted (run `backbeat check --repair`)")
    report.snapshots = len(snaps)
    trees: set[bytes] = set()
    data: set[bytes] = set()

    for snap in snaps:

        def failed(path: bytes, e: BackbeatError, snap: str = snap.short_id) -> None:
            raise PruneStopped(f"snapshot {snap}: the folder {os.fsdecode(path) or '/'} cannot be read ({e})")

        if snap.tree_id not in trees:
            walk_trees(store, snap.tree_id, trees, lambda blob_id, path: data.add(blob_id), failed)
    used = trees | data
    absent = len(used - index.ids())
    if absent:
        report.warnings.append(f"{absent} piece(s) that snapshots need are missing (see `backbeat check`)")
    return used


def _assign(plan: PrunePlan, used: set[bytes]) -> None:
    """Each used blob keeps one copy: in the pack that holds the most used bytes (a repacked pack
    beats the old one it came from, so an interrupted prune's work is not wasted)."""
    weight: dict[bytes, int] = {}
    copies: dict[bytes, list[tuple[bytes, PackEntry]]] = {}
    for pack_id, p in plan.packs.items():
        for e in p.info.entries:
            if e.blob_id in used:
                weight[pack_id] = weight.get(pack_id, 0) + e.length
                copies.setdefault(e.blob_id, []).append((pack_id, e))
    for blob_id, where in copies.items():
        pack_id, entry = max(where, key=lambda c: (weight[c[0]], c[0]))
        plan.packs[pack_id].used[blob_id] = entry


def _choose(plan: PrunePlan, options: PruneSettings, network: bool, report: PruneReport) -> None:
    stored = sum(p.info.size for p in plan.packs.values())
    plan.delete = {pid for pid, p in plan.packs.items() if not p.used}
    partly = sorted(
        (pid for pid, p in plan.packs.items() if p.used and p.unused_bytes > 0),
        key=lambda pid: plan.packs[pid].unused_bytes / plan.packs[pid].info.size,
        reverse=True,
    )
    unused = sum(plan.packs[pid].unused_bytes for pid in partly)
    allowed = options.max_unused * stored if network else 0
    budget = options.repack_budget if network else None
    moved = 0
    for pid in partly:
        if unused <= allowed:
            break
        p = plan.packs[pid]
        if budget is not None and moved + p.used_bytes > budget:
            plan.postponed.append(pid)
            report.bytes_postponed += p.unused_bytes
            continue
        plan.repack.append(pid)
        moved += p.used_bytes
        unused -= p.unused_bytes
    report.bytes_unused_left = unused
    report.packs_postponed = len(plan.postponed)


def repack(
    session: Session,
    plan: PrunePlan,
    events: EventSink,
    clock: Clock,
    report: PruneReport,
    lost: set[bytes] | None = None,
) -> list[PackInfo]:
    """Copy the used blobs of the chosen packs into new packs; returns them once at the destination.
    A pack with a damaged used blob is kept as it is (its good blobs may now have two copies),
    unless `lost` is given (repair salvaging a damaged pack): then the damaged blob is left out
    and recorded there, and the pack's good blobs move on without it."""
    repo = session.repo
    fresh = Index()
    packs = session.outbox.packs(lambda info: store.pack_stored(info))
    store = BlobStore(repo.key, fresh, repo.backend, packs, repo.pack_size)
    meter = Meter(clock, len(plan.repack), sum(plan.packs[p].used_bytes for p in plan.repack))
    try:
        for pack_id in list(plan.repack):
            wanted = sorted(plan.packs[pack_id].used.items(), key=lambda kv: kv[1].offset)
            start = wanted[0][1].offset
            try:
                span = repo.backend.get(pack_name(pack_id), start, wanted[-1][1].offset + wanted[-1][1].length - start)
            except BackbeatError:
                if lost is None:
                    raise
                span = b""  # truncated past every blob, or gone: nothing to salvage
            for blob_id, e, piece, opened in open_span(repo.key, pack_id, span, start, wanted):
                if isinstance(opened, IntegrityError):
                    if lost is not None:
                        lost.add(blob_id)
                        continue
                    report.warnings.append(
                        f"pack {pack_id.hex()[:16]} kept: {opened} (see `backbeat check --read-data`)"
                    )
                    plan.repack.remove(pack_id)
                    break
                if store.reserve(blob_id):
                    store.add(Sealed(blob_id, e.type, e.compression, piece, e.raw_length))
            meter.add(plan.packs[pack_id].used_bytes, files=1)
            events(meter.event("repacking"))
        store.flush()
    finally:
        packs.close()
    report.bytes_repacked = packs.bytes_written
    return list(parse_index(fresh.take_pending().plain))


def rewrite_index(session: Session, plan: PrunePlan, new_packs: list[PackInfo]) -> dict[str, list[PackInfo]]:
    """One index file for every pack that stays but whose old index file goes (and the packs made
    anew); then those old files, and the damaged ones, are deleted."""
    gone = plan.delete | set(plan.repack) | plan.missing
    affected = {n for n, infos in plan.files.items() if any(i.pack_id in gone for i in infos)}
    kept = {n: infos for n, infos in plan.files.items() if n not in affected}
    named = {i.pack_id for infos in kept.values() for i in infos}
    stays = [p.info for pid, p in plan.packs.items() if pid not in gone and pid not in named]
    stays += [i for i in new_packs if i.pack_id not in named]
    return session.outbox.replace_index(kept, stays, sorted(affected) + plan.damaged_files)


def run_prune(
    session: Session,
    options: PruneSettings = PruneSettings(),
    dry_run: bool = False,
    events: EventSink = lambda ev: None,
    clock: Clock = SYSTEM_CLOCK,
) -> PruneReport:
    """Call through the runner (`NEEDS`): alone at the destination. Refused while a seed drive is
    on its way, or while this computer's newest snapshot is missing there: data either needs
    would look unused, and nothing is deleted on a server's word."""
    require(session, NEEDS)
    location = session.repo.backend.location
    if session.state.pending_seed(location) is not None:
        raise BackbeatError(
            f"a seed drive for {location} has not been loaded yet",
            hint="Clean-up waits until the provider has loaded the drive and `backbeat reconcile` has checked it.",
        )
    if missing := newest_missing(session):
        raise BackbeatError(missing, hint="Clean-up waits until this is explained, or a new backup has been made.")
    started = clock.monotonic()
    repo = session.repo
    report = PruneReport(dry_run)
    plan = read_plan(session, report)
    _assign(plan, _used_blobs(session, plan, report))
    _choose(plan, options, repo.backend.is_network, report)
    report.packs_deleted = len(plan.delete)
    report.bytes_deleted = sum(plan.packs[p].info.size for p in plan.delete)
    if dry_run:
        report.packs_repacked = len(plan.repack)
        report.bytes_repacked = sum(plan.packs[p].used_bytes for p in plan.repack)
        report.bytes_after = (
            report.bytes_before - report.bytes_deleted - sum(plan.packs[p].unused_bytes for p in plan.repack)
        )
        report.duration = clock.monotonic() - started
        return report

    new_packs = repack(session, plan, events, clock, report) if plan.repack else []
    index_files = rewrite_index(session, plan, new_packs)
    doomed = sorted((plan.delete | set(plan.repack)) - {p.pack_id for p in new_packs})  # one made anew: same name
    session.check_lock()
    meter = Meter(clock, len(doomed), sum(plan.packs[p].info.size for p in doomed))
    for pack_id in doomed:
        try:
            repo.backend.delete(pack_name(pack_id))
        except ObjectNotFound:
            pass
        meter.add(plan.packs[pack_id].info.size, files=1)
        events(meter.event("deleting"))
    report.packs_repacked = len(plan.repack)  # a pack with damaged data was dropped from the plan
    update_state(session, index_files)
    report.bytes_after = sum(session.state.held(repo.backend.location).values())
    report.duration = clock.monotonic() - started
    return report


def update_state(session: Session, index_files: dict[str, list[PackInfo]]) -> None:
    """What this machine believes the destination holds, from what prune left there."""
    session.cache_index(index_files)
    session.state.set_held(session.repo.backend.location, list_packs(session.repo.backend))
    session.reload_index()
