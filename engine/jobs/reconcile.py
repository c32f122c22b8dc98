"""Reconcile: what a destination really holds, against what this machine expects there, and the repair.

Expected at the destination: every object of a seed exported for it, every pack the repository's
index names (everything uploaded since included), and the index files this machine has loaded.
One listing says which are present at the right size. A seed's packs are checked without being
downloaded where the destination's listing gives each object's MD5 (an S3 ETag): the seed's
manifest holds the MD5 of every object as the drive held it. The content of a sample of the other
packs (all of them with `full`) and of every index file and snapshot is read and checked against
its name; the report says how many packs were checked each way. Present and
verified packs become what this machine knows the destination holds, so "% backed up" is exact
at once. Missing or damaged objects are then repaired:

- from the seed drive when it is attached (copied and verified, object by object);
- otherwise a damaged pack is salvaged as `check --repair` does (every piece of it that still
  verifies moves to a new pack; a flipped byte costs one piece, not the pack), the index is
  rewritten without what was lost (one new index file first, then the old ones deleted: a crash
  in between leaves duplicates, never a gap), and the files whose pieces were lost are read again
  from the source by the next backup (the files cache vouches only for files whose every blob is
  indexed).

A seed that is not loaded yet (engine.jobs.seed: shipping, or loading with some of its objects
listed and no receipt of a finished load) is never "repaired" away: the report says where it
stands, what has arrived counts as held, and nothing else is changed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from engine.backends.base import Backend, list_packs, pack_ids, pack_name, packs_in
from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import BackendError, ObjectNotFound, OtherRepositoryThere, ServerFault
from engine.base.events import EventSink
from engine.base.progress import Meter
from engine.base.units import format_bytes
from engine.jobs.needs import Needs, require
from engine.jobs.repair import mark_snapshots, salvage
from engine.jobs.seed import read_receipts, seed_progress
from engine.jobs.session import Session
from engine.repo.pack import matches_name
from engine.repo.repository import Repository

__all__ = ["NEEDS", "ReconcileReport", "run_reconcile"]

#: alone at the destination, as prune and repair: it rewrites the index, deletes index files and
#: packs. Started by hand after a load, it waits for a backup under way (the app's) to finish.
NEEDS = Needs("reconcile", lock="exclusive", lock_wait=600.0, writes=True, paced=True)

_SAMPLE = 16  # packs whose content is read without `full`


@dataclass
class ReconcileReport:
    destination: str
    objects_present: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    #: packs whose content was read and checked
    packs_verified: int = 0
    #: seed packs checked by the MD5 the destination lists, against the manifest's (nothing downloaded)
    packs_checksummed: int = 0
    #: bytes downloaded to verify
    bytes_read: int = 0
    #: packs counted by name and size only (neither checksummed nor read): the % is provisional
    unverified: int = 0
    #: objects copied from the seed drive
    repaired_from_drive: int = 0
    #: packs dropped from the index: their files are read again from the source by the next backup
    dropped: int = 0
    bytes_to_upload: int = 0
    seed_waiting: bool = False
    #: where a seed drive for this destination stands: "shipping", "loading", "loaded", or "" for none
    seed_state: str = ""
    percent_backed_up: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return dict(self.__dict__)

    def summary(self) -> str:
        """What a home user needs to hear after "Check Online Storage"."""
        if self.seed_waiting:
            where = "has not started loading" if self.seed_state == "shipping" else "is still loading"
            return (
                f"Your provider {where} the seed drive. Backbeat keeps uploading only what is not on "
                "the drive; check again once the provider says the drive is loaded."
            )
        said = f"Online storage checked: {self.percent_backed_up:.1f}% of your files are backed up online."
        lost = len(self.missing) + len(self.corrupt) - self.repaired_from_drive
        if self.repaired_from_drive:
            said += f" {self.repaired_from_drive} missing or damaged piece(s) were copied from the seed drive."
        if lost > 0:
            said += (
                f" {lost} piece(s) were missing or damaged: the next backup uploads "
                f"{format_bytes(self.bytes_to_upload)} again to replace them."
            )
        elif not self.repaired_from_drive:
            said += " Everything this computer sent or seeded is there."
        if self.unverified:
            said += (
                f" The figure is provisional: {self.unverified} piece(s) were counted by their name and size, "
                f"{self.packs_checksummed + self.packs_verified} checked by their content."
            )
        return said


def _expected(session: Session) -> dict[str, int | None]:
    """name -> size (None when unknown) of every object this machine expects at the destination."""
    out: dict[str, int | None] = {}
    seed = session.state.pending_seed(session.repo.backend.location)
    if seed is not None:
        out.update({name: size for name, (size, *_) in seed["objects"].items() if name != "config"})
    out.update({pack_name(p): size for p, size in session.index.pack_sizes.items()})
    for name in session.state.loaded_index_files():
        out.setdefault(name, None)
    return out


def _intact(backend: Backend, name: str) -> bool:
    try:
        return matches_name(name, backend.get(name))
    except ObjectNotFound:
        return False


def run_reconcile(
    session: Session, drive: Backend | None = None, full: bool = False, events: EventSink = lambda ev: None
) -> ReconcileReport:
    require(session, NEEDS)
    if drive is not None and Repository.read_config(drive)["id"] != session.repo.id:
        raise OtherRepositoryThere(
            f"{drive.location} holds another backup's seed",
            hint="Give --drive the seed drive made for this backup, or leave --drive out; nothing was changed.",
        )
    backend = session.repo.backend
    report = ReconcileReport(backend.location)
    expected = _expected(session)
    there: dict[str, int] = {}
    for prefix in ("keys/", "data/", "index/", "snapshots/"):
        there.update(backend.list_sizes(prefix))
    seed = session.state.pending_seed(backend.location)
    seed_md5: dict[str, str] = {}
    if seed is not None:
        seed_md5 = {n: v[2] for n, v in seed["objects"].items() if len(v) > 2}  # manifests before 2026-12: none
        progress = seed_progress(seed, there, read_receipts(backend))
        report.seed_state = progress.state
        if progress.state != "loaded":
            report.seed_waiting = True
            report.notes.append(f"{progress.describe()}; run reconcile again once the load has finished")
            session.state.set_held(backend.location, packs_in(there))  # what has arrived is there
            coming = set(seed["objects"])  # the provider's to bring, not this computer's to send
            report.bytes_to_upload = sum(
                size or 0 for n, size in expected.items() if n not in there and n not in coming
            )
            return report
        # loaded: from now on the listing is the truth. Said before anything is changed there: a
        # reconcile killed after deleting an index file would otherwise find fewer of the seed's
        # objects next time, wait for the drive forever, and keep trusting the packs it lost.
        session.state.clear_seed(backend.location)

    missing = sorted(n for n, size in expected.items() if n not in there)
    wrong_size = sorted(n for n, size in expected.items() if n in there and size is not None and there[n] != size)
    present = [n for n in expected if n in there and n not in wrong_size]
    packs = [n for n in present if n.startswith("data/")]
    listed_md5 = backend.list_md5("data/") if seed_md5 else {}
    summed = [n for n in packs if n in seed_md5 and n in listed_md5]
    damaged = [n for n in summed if listed_md5[n] != seed_md5[n]]
    unsummed = [n for n in packs if not (n in seed_md5 and n in listed_md5)]
    sample = unsummed if full else random.sample(unsummed, min(_SAMPLE, len(unsummed)))
    others = [n for n in present if not n.startswith("data/")]
    unreadable = _read_back([*others, *sample], there, backend, damaged, report, events)
    report.packs_verified, report.packs_checksummed = len(sample) - unreadable, len(summed)
    report.unverified = len(unsummed) - len(sample) + unreadable
    if report.unverified:
        report.notes.append(
            f"{len(unsummed) - len(sample)} of {len(packs)} packs were counted by their name and size only "
            "(the destination lists no checksum for them): `reconcile --full` reads them all"
        )
    report.missing, report.corrupt = missing, sorted(wrong_size + damaged)
    bad = set(report.missing) | set(report.corrupt)
    report.objects_present = len(present) - len(damaged)

    if bad and drive is not None:
        _repair_from(drive, backend, bad, report)
        bad = {n for n in bad if not _intact(backend, n)}
    bad_packs = pack_ids(bad)
    if bad_packs:  # only those still damaged: one put back from the drive stays (issue 26, D1)
        _salvage(session, bad_packs, pack_ids(bad & set(report.corrupt)), report, events)
    session.state.set_held(backend.location, list_packs(backend))
    return report


def _read_back(
    names: list[str],
    there: dict[str, int],
    backend: Backend,
    damaged: list[str],
    report: ReconcileReport,
    events: EventSink,
) -> int:
    """Download and check `names` against their names, adding the damaged ones to `damaged`;
    returns how many packs could not be read (the destination failed on them)."""
    packs = [n for n in names if n.startswith("data/")]
    meter = Meter(SYSTEM_CLOCK, len(names), sum(there[n] for n in packs))
    unreadable = 0
    for name in names:
        try:
            if not _intact(backend, name):
                damaged.append(name)
        except ServerFault as e:  # its fault, not the object's: neither counted damaged nor verified
            unreadable += name.startswith("data/")
            report.notes.append(f"{name} could not be read: {e}; run reconcile again later")
        report.bytes_read += there[name]
        meter.add(there[name] if name.startswith("data/") else 0, files=1)
        events(meter.event("verifying"))
    return unreadable


def _repair_from(drive: Backend, backend: Backend, bad: set[str], report: ReconcileReport) -> None:
    for name in sorted(bad):
        try:
            data = drive.get(name)
        except (ObjectNotFound, BackendError):
            continue
        if not matches_name(name, data):
            report.notes.append(f"{name} is damaged on the drive too")
            continue
        backend.put(name, data)
        report.repaired_from_drive += 1


def _salvage(
    session: Session, bad: set[bytes], damaged: set[bytes], report: ReconcileReport, events: EventSink
) -> None:
    """Keep what verifies of the `damaged` packs, drop the rest of `bad` (missing) from the index;
    the next backup stores again the pieces that were lost, from the source."""
    lengths = {b: e.length for b, e in session.index.entries() if e.pack_id in bad}
    salvaged, _plan = salvage(session, damaged, events)
    lost = [b for b in lengths if b not in session.index]
    marked, removed = mark_snapshots(session)  # as repair: the versions that lost a file say so
    report.notes += marked + removed
    report.dropped = len(bad)
    report.bytes_to_upload = sum(lengths[b] for b in lost)
    kept = len(lengths) - len(lost)
    said = f"{len(bad)} pack(s) were missing or damaged at the destination"
    if salvaged:
        said += f"; {kept} intact piece(s) of the {salvaged} damaged one(s) were kept"
    report.notes.append(
        f"{said}: the next backup reads again the files whose {len(lost)} piece(s) were lost; versions of those "
        "files that have changed since cannot be restored from this destination any more"
    )
