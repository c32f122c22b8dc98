"""Integrity check of a repository at one destination.

The quick check proves the structure: every snapshot's trees decode, every blob they name is
in the index, and every pack the index names exists at the destination with a plausible size.
With `read_data` every pack is read whole: its bytes must hash to its name, its header must
open and agree with the index, and every blob must decrypt and match its id. Problems are
collected, not raised, and damaged data is traced to the files (and snapshots) that need it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine.backends.base import list_packs, pack_name
from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import BackbeatError, IntegrityError, ObjectNotFound
from engine.base.events import EventSink
from engine.base.progress import Meter
from engine.jobs.needs import Needs, require
from engine.jobs.rollback import snapshot_warnings
from engine.jobs.seed import on_the_way
from engine.jobs.session import Session
from engine.repo.blob import BlobType
from engine.repo.crypto import named_by_content
from engine.repo.index import decode_index
from engine.repo.keys import damaged_keys
from engine.repo.pack import decode_header, holds_pack, open_span, parse_trailer
from engine.repo.repository import Repository
from engine.repo.snapshot import load_snapshots
from engine.repo.walk import walk_trees

__all__ = ["NEEDS", "CheckReport", "run_check"]

#: beside backups; where no lock can be written (a read-only drive) it reads without one
NEEDS = Needs("check", lock="shared")


@dataclass
class CheckReport:
    snapshots: int = 0
    packs: int = 0
    blobs: int = 0
    bytes_read: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: not damage, but worth the user's attention (a destination that went back in time)
    warnings: list[str] = field(default_factory=list)
    damaged_files: list[str] = field(default_factory=list)
    #: hex ids of packs whose bytes, header or blobs failed verification (or that are missing)
    damaged_packs: list[str] = field(default_factory=list)
    #: key files, index files and snapshot records that failed verification (repair replaces them)
    damaged_objects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict:
        return self.__dict__ | {"ok": self.ok}


def _read_pack(session: Session, pack_id: bytes, blobs: list, report: CheckReport) -> set[bytes]:
    """Read one pack whole and verify everything in it; returns the ids of damaged blobs."""
    key = session.repo.key
    data = session.repo.backend.get(pack_name(pack_id))
    report.bytes_read += len(data)
    errors = len(report.errors)
    if not holds_pack(pack_id, data):
        report.errors.append(f"pack {pack_id.hex()[:16]} does not match its name (damaged)")
    damaged = set()
    try:
        start, sealed = parse_trailer(data, len(data))
        header = {e.blob_id: e for e in decode_header(key, pack_id, sealed, start)}
    except IntegrityError as e:
        report.errors.append(f"pack {pack_id.hex()[:16]}: {e}")
        header = {}
    for blob_id, _entry, _sealed, opened in open_span(key, pack_id, data, 0, blobs):
        if header and header.get(blob_id, None) is None:
            report.errors.append(f"pack {pack_id.hex()[:16]} header lacks blob {blob_id.hex()[:16]}")
        if isinstance(opened, IntegrityError):
            damaged.add(blob_id)
            report.errors.append(f"pack {pack_id.hex()[:16]}: {opened}")
        else:
            report.blobs += 1
    if len(report.errors) > errors and pack_id.hex() not in report.damaged_packs:
        report.damaged_packs.append(pack_id.hex())
    return damaged


def _check_metadata(repo: Repository, report: CheckReport) -> None:
    """Key files and index files must match their names and open (config was checked at unlock)."""
    for name in damaged_keys(repo.backend):
        report.errors.append(f"key file {name} is damaged (its bytes do not match its name)")
        report.damaged_objects.append(name)
    for name in repo.index_names():
        try:
            data = repo.backend.get(name)
            if not named_by_content(name, data):
                raise IntegrityError("its bytes do not match its name")
            for _ in decode_index(repo.key, data):
                pass
        except ObjectNotFound:
            continue
        except IntegrityError as e:
            report.errors.append(f"index file {name} is damaged ({e.detail or e})")
            report.damaged_objects.append(name)


def run_check(session: Session, read_data: bool = False, events: EventSink = lambda ev: None) -> CheckReport:
    require(session, NEEDS)
    report = CheckReport()
    repo, index = session.repo, session.index
    present = list_packs(repo.backend)
    session.state.set_held(repo.backend.location, present)
    packs = index.packs()
    coming = on_the_way(session, present)  # a seed drive's, not loaded yet: expected, not damaged
    if coming:
        report.notes.append(
            f"{len(coming)} pack(s) are expected from the seed drive, which is not loaded yet: what they hold is "
            "checked once it is"
        )
    missing_packs = set()
    for pack_id in packs:
        expected = index.pack_sizes.get(pack_id)
        if pack_id in coming:
            continue
        if pack_id not in present:
            missing_packs.add(pack_id)
            report.errors.append(f"pack {pack_id.hex()[:16]} is named by the index but missing")
        elif expected is not None and present[pack_id] != expected:
            missing_packs.add(pack_id)
            report.errors.append(f"pack {pack_id.hex()[:16]} has {present[pack_id]} bytes, not {expected}")
    unindexed = set(present) - set(packs)
    if unindexed:
        report.notes.append(f"{len(unindexed)} pack(s) are not in the index (left by an interrupted run; harmless)")
    report.packs = len(packs)
    report.warnings += snapshot_warnings(session)
    if session.healed:
        report.warnings.append(session.healed)
    report.damaged_packs = [p.hex() for p in sorted(missing_packs)]
    _check_metadata(repo, report)

    # a pack of the wrong size is read too when reading data: blobs before a cut are still whole
    unread = {p for p in missing_packs if not read_data or p not in present}
    damaged: set[bytes] = {b for p in unread for b, _ in packs[p]}
    if read_data:
        meter = Meter(SYSTEM_CLOCK, len(packs), sum(present.get(p, 0) for p in packs))
        for pack_id, blobs in packs.items():
            if pack_id in present:
                damaged |= _read_pack(session, pack_id, blobs, report)
            meter.add(present.get(pack_id, 0), files=1)
            events(meter.event("checking"))
        for pack_id in sorted(unindexed):  # a killed run's, or not this repository's at all
            try:
                repo.pack_header(pack_id)
            except (IntegrityError, ObjectNotFound) as e:
                report.errors.append(f"pack {pack_id.hex()[:16]} is in no index and its header does not open ({e})")

    seeded = {b for p in coming for b, e in packs.get(p, ()) if e.type == BlobType.TREE}
    _check_snapshots(session, damaged, report, seeded)
    return report


def _check_snapshots(
    session: Session, damaged: set[bytes], report: CheckReport, seeded: set[bytes] = frozenset()
) -> None:
    """Every tree of every snapshot decodes and every blob it names is indexed and undamaged;
    damaged data is traced to the files (and snapshots) that need it. Folders whose trees are
    `seeded` (on a seed drive on its way) are left for when it has arrived."""
    repo, index = session.repo, session.index
    unreadable: dict[str, str] = {}
    snaps = load_snapshots(repo.backend, repo.key, unreadable)
    report.errors += unreadable.values()
    report.damaged_objects += unreadable
    report.snapshots = len(snaps)
    affected: dict[str, set[str]] = {}

    for snap in snaps:
        marked = set(snap.damaged)  # a repair listed these: known, not news
        if marked:
            report.notes.append(
                f"snapshot {snap.short_id}: {len(marked)} file(s) were marked damaged by a repair "
                "and cannot be restored from this destination"
            )

        def failed(path: bytes, e: BackbeatError, snap=snap, marked=marked) -> None:
            if os.fsdecode(path) + "/" not in marked:
                report.errors.append(f"snapshot {snap.short_id}: folder {os.fsdecode(path) or '/'}: {e}")
                affected.setdefault(os.fsdecode(path) + "/", set()).add(snap.short_id)  # all under it

        def uses(blob_id: bytes, path: bytes, snap=snap, marked=marked) -> None:
            if blob_id not in index:
                if os.fsdecode(path) not in marked:
                    report.errors.append(f"snapshot {snap.short_id}: {os.fsdecode(path)} needs a blob not in the index")
            elif blob_id in damaged:
                affected.setdefault(os.fsdecode(path), set()).add(snap.short_id)

        if snap.tree_id not in seeded:
            walk_trees(session.reader, snap.tree_id, None, uses, failed, skip=seeded)
    report.damaged_files = [f"{p} (snapshots {', '.join(sorted(s))})" for p, s in sorted(affected.items())]
