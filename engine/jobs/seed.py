"""Seed drive: the first upload travels on a disk, and the online backup carries on from it.

`export` makes the drive a copy of the cloud destination's repository (same config, keys and
object names: a pack's name is the BLAKE3 of its bytes, so the provider can load the drive as
it is) and backs up into it at disk speed, then writes a manifest (every object's name, size and
BLAKE3, authenticated with a key derived from the repository's master key) and a README for
whoever loads it. This machine records the seed as pending for the cloud destination: until
`reconcile` confirms it there, backups to the cloud count the drive's blobs as stored and send
only what is not on it ("waiting for seed"). `verify` reads the drive back against its manifest;
`load` (the provider's side, no passphrase) copies it into the bucket, verifying each object,
and ends by leaving a receipt there (`seeds/<id>`) once every object of the manifest is in place.

A seed moves through states, computed from one listing of the destination, never guessed:
shipping (none of its objects there yet), loading (some), loaded (every object of the manifest
there at its size, or the load's receipt there: what is missing after a finished load is lost),
and abandoned (the user declared the drive lost: `seed abandon`; only then is its data sent over
the line). Until loaded, nothing the seed brings is counted lost, and backups send only what the
drive does not hold.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from engine.backends.base import Backend, list_packs, pack_ids, readable
from engine.backends.local import LocalBackend
from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import BackbeatError, DestinationFull, IntegrityError, ObjectNotFound, OtherRepositoryThere
from engine.base.events import EventSink
from engine.base.files import write_atomic
from engine.base.progress import Meter
from engine.base.units import format_bytes
from engine.jobs.copy import CopyReport, run_copy
from engine.jobs.needs import Needs
from engine.jobs.session import Session
from engine.local.state import State
from engine.repo.crypto import MasterKey, plain_hash
from engine.repo.pack import matches_name
from engine.repo.repository import Repository

__all__ = [
    "MANIFEST",
    "DriveMissing",
    "SeedVerifyReport",
    "open_drive",
    "prepare_drive",
    "check_space",
    "write_manifest",
    "read_manifest",
    "verify_drive",
    "load_drive",
    "LOAD",
    "SeedProgress",
    "seed_progress",
    "read_receipts",
    "on_the_way",
]

MANIFEST = "backbeat-seed-manifest.json"
README = "README-BACKBEAT-SEED.txt"
_PREFIXES = ("keys/", "data/", "index/", "snapshots/")
_RECEIPTS = "seeds/"
_MAC_PURPOSE = "seed manifest"
#: room kept free on the drive beyond the estimate: file-system overhead, index files, snapshots
_SLACK = 64 << 20

_README_TEXT = """This drive holds a Backbeat backup repository (a seed), exported {created}.

Everything in it is encrypted; nothing on it can be read without the owner's passphrase.

To load it into the owner's storage, from a machine with Backbeat installed:

    backbeat seed verify --drive THIS_FOLDER
    backbeat seed load --drive THIS_FOLDER --repo s3://BUCKET/PREFIX

`load` copies every object, verifying each against its name and against {manifest};
it can be stopped and run again at any time (it resumes, and never copies an object twice).
It refuses a bucket that holds another repository. Repository id: {repo_id}.
"""


class DriveMissing(BackbeatError):
    message = "the seed drive is not attached"
    hint = "Plug the drive in (or check the folder's path), then run the command again: it resumes."


@dataclass
class SeedVerifyReport:
    objects: int = 0
    bytes_read: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    #: True/False when the manifest's authenticity was checked (it needs the passphrase), None when not
    authentic: bool | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt and self.authentic is not False

    def to_json(self) -> dict:
        return dict(self.__dict__) | {"ok": self.ok}


def open_drive(path: str, *, for_export: bool = False) -> LocalBackend:
    """The drive's folder; an export may create it, but only on a drive that is there."""
    folder = Path(path).expanduser().absolute()
    if for_export and not folder.exists() and folder.parent.is_dir():
        folder.mkdir()
    if not folder.is_dir():
        raise DriveMissing(f"there is no folder at {folder}")
    if not for_export and not (folder / MANIFEST).is_file():
        raise DriveMissing(
            f"{folder} holds no seed (no {MANIFEST})",
            hint="Point --drive at the folder `backbeat seed export` wrote to.",
        )
    return LocalBackend(folder)


def prepare_drive(cloud: Backend, drive: Backend) -> dict:
    """Make the drive the same repository as the cloud destination: its config and its keys."""
    config = Repository.read_config(cloud)
    if drive.exists():
        if Repository.read_config(drive)["id"] != config["id"]:
            raise OtherRepositoryThere(
                f"{drive.location} holds another repository",
                hint="Export to an empty folder, or to the folder of an earlier export of this backup.",
            )
    else:
        drive.put("config", cloud.get("config"))
    for name in cloud.list("keys/"):
        if name not in drive.list("keys/"):
            drive.put(name, cloud.get(name))
    return config


def check_space(drive: LocalBackend, selection_bytes: int) -> int:
    """Refuse to start an export that will not fit; returns the bytes it needs (an upper bound:
    compression and dedup only make it smaller)."""
    already = sum(list_packs(drive).values())
    needed = max(0, selection_bytes - already) + _SLACK
    free = shutil.disk_usage(drive.root).free
    if needed > free:
        raise DestinationFull(
            f"{drive.location} has {format_bytes(free)} free; the export needs up to {format_bytes(needed)}",
            hint="Use a bigger drive, or free some space on it, then run the command again.",
        )
    return needed


def _digest(backend: Backend, name: str) -> list:
    """[size, BLAKE3 hex, MD5 hex] of an object as the drive holds it: BLAKE3 for `seed verify`, MD5
    for reconcile to compare with a destination's listing (an S3 ETag) without downloading it."""
    data = backend.get(name)
    return [len(data), plain_hash(data).hex(), hashlib.md5(data, usedforsecurity=False).hexdigest()]


def _objects(backend: Backend) -> list[str]:
    names = ["config"] if backend.exists() else []
    for prefix in _PREFIXES:
        names.extend(backend.list(prefix))
    return names


def _mac(key: MasterKey, doc: dict) -> str:
    body = json.dumps({k: v for k, v in doc.items() if k != "mac"}, sort_keys=True).encode()
    return key.mac(_MAC_PURPOSE, body).hex()


def write_manifest(drive: LocalBackend, key: MasterKey, source: str, events: EventSink) -> dict:
    """Read every object back from the drive (what landed, not what was meant to) into the manifest."""
    names = _objects(drive)
    meter = Meter(SYSTEM_CLOCK, len(names), sum(drive.list_sizes("data/").values()))
    objects = {}
    for name in names:
        objects[name] = _digest(drive, name)
        meter.add(objects[name][0] if name.startswith("data/") else 0, files=1)
        events(meter.event("writing the manifest"))
    created = SYSTEM_CLOCK.wall()
    repo_id = Repository.read_config(drive)["id"]
    doc = {"format": 1, "repository": repo_id, "source": source, "created": created, "objects": objects}
    doc["mac"] = _mac(key, doc)
    write_atomic(drive.root / MANIFEST, json.dumps(doc, indent=1, sort_keys=True), durable=True, mode=0o644)
    when = _iso(created)
    readme = _README_TEXT.format(created=when, manifest=MANIFEST, repo_id=repo_id)
    write_atomic(drive.root / README, readme, durable=True, mode=0o644)  # for the provider's staff
    return doc


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall).isoformat(timespec="seconds")


def read_manifest(drive: LocalBackend) -> dict:
    try:
        doc = json.loads((drive.root / MANIFEST).read_text())
        if not isinstance(doc.get("objects"), dict):
            raise ValueError("no objects")
        return doc
    except (OSError, ValueError) as e:
        raise IntegrityError(
            f"the seed manifest on {drive.location} is unreadable ({e})",
            hint="Run `backbeat seed export` again with this drive attached: it rewrites the manifest.",
        ) from None


def verify_drive(drive: LocalBackend, key: MasterKey | None, events: EventSink) -> SeedVerifyReport:
    """Read everything on the drive and check it against the manifest (and the manifest against its
    MAC when the passphrase is at hand)."""
    doc = read_manifest(drive)
    report = SeedVerifyReport()
    if key is not None:
        report.authentic = doc.get("mac") == _mac(key, doc)
    objects = doc["objects"]
    meter = Meter(SYSTEM_CLOCK, len(objects), sum(size for size, *_ in objects.values()))
    for name, (size, digest, *_) in sorted(objects.items()):
        try:
            data = drive.get(name)
        except ObjectNotFound:
            report.missing.append(name)
            continue
        report.objects += 1
        report.bytes_read += len(data)
        if (len(data), plain_hash(data).hex()) != (size, digest) or (name != "config" and not matches_name(name, data)):
            report.corrupt.append(name)
        meter.add(size, files=1)
        events(meter.event("verifying"))
    return report


#: copying a drive into its destination: paced and pausable like any upload (whoever loads it may
#: have no passphrase, so no repository lock: copying names the objects by their content)
LOAD = Needs("seed load", paced=True, stoppable=True)


def load_drive(drive: LocalBackend, cloud: Backend, state: State | None, events: EventSink) -> CopyReport:
    """Copy the drive into the cloud destination (refusing another repository's), then confirm that
    every object of the manifest is there at its size. Idempotent: run it again to resume."""
    doc = read_manifest(drive)
    if Repository.read_config(drive)["id"] != doc.get("repository"):
        raise IntegrityError(f"the manifest on {drive.location} belongs to another repository")
    report = run_copy(drive, cloud, state, events)
    there = {}
    for prefix in _PREFIXES:
        there.update(cloud.list_sizes(prefix))
    damaged = set(report.damaged)
    absent = [n for n, (size, *_) in sorted(doc["objects"].items()) if n != "config" and there.get(n) != size]
    for name in absent:
        if name not in damaged:
            report.errors.append(f"{name} is not at {cloud.location} after the copy")
    if set(absent) <= damaged:  # finished: what the drive could not give is the owner's computer's to send
        _leave_receipt(cloud, doc, left_out=absent)
    return report


def _leave_receipt(cloud: Backend, doc: dict, left_out: list[str]) -> str:
    """The load is finished: every object of the manifest is at the destination but `left_out`
    (damaged on the drive), which reconcile then counts as lost and the next backup sends again.
    Named by the hash of its bytes like every record; it holds nothing secret (the provider has no key)."""
    objects = doc["objects"]
    receipt = {
        "format": 1,
        "repository": doc["repository"],
        "seed_created": doc["created"],
        "objects": len(objects),
        "bytes": sum(size for size, *_ in objects.values()),
        "loaded": SYSTEM_CLOCK.wall(),
        "left_out": left_out,
    }
    body = json.dumps(receipt, sort_keys=True).encode()
    name = _RECEIPTS + plain_hash(body).hex()
    cloud.put(name, body)
    return name


def read_receipts(backend: Backend) -> list[dict]:
    """The receipts of finished loads at a destination (one that does not match its name, or does
    not parse, is left out: a receipt only ever lets reconcile count as lost what a load left out)."""
    out = []
    for name in readable(backend, _RECEIPTS):  # names checked, and nothing bigger than a receipt read
        try:
            body = backend.get(name)
            doc = json.loads(body) if plain_hash(body).hex() == name.removeprefix(_RECEIPTS) else None
        except (ObjectNotFound, ValueError):
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


@dataclass(frozen=True)
class SeedProgress:
    #: "shipping", "loading" or "loaded"
    state: str
    objects: int
    objects_there: int
    bytes: int
    bytes_there: int

    def describe(self) -> str:
        if self.state == "shipping":
            return "the seed drive is on its way: none of it is at the destination yet"
        done = f"{self.objects_there} of its {self.objects} objects ({format_bytes(self.bytes_there)} of " + (
            f"{format_bytes(self.bytes)}) are at the destination"
        )
        return (
            f"the seed drive is being loaded: {done}"
            if self.state == "loading"
            else f"the seed drive is loaded: {done}"
        )


def on_the_way(session: Session, present: dict[bytes, int]) -> set[bytes]:
    """Packs a seed drive not loaded yet is to bring to the session's destination and that are not
    there yet (`present`: the destination's listing of packs). Empty once it is loaded: from then on
    a missing pack is lost."""
    seed = session.state.pending_seed(session.repo.backend.location)
    if seed is None:
        return set()
    absent = pack_ids(seed["objects"]) - present.keys()
    if absent and _receipted(seed, read_receipts(session.repo.backend)):
        return set()  # the load finished: what it left out is lost
    return absent


def _receipted(seed: dict, receipts: list[dict]) -> bool:
    """Whether a finished load of this seed left its receipt."""
    return any(r.get("seed_created") == seed["created"] for r in receipts)


def seed_progress(seed: dict, there: dict[str, int], receipts: list[dict]) -> SeedProgress:
    """Where a pending seed stands, from one listing of its destination (name -> size) and the
    receipts found there."""
    # `config` is never listed, and the keys were the destination's own before the export
    objects = {n: size for n, (size, *_) in seed["objects"].items() if n != "config" and not n.startswith("keys/")}
    arrived = {n: size for n, size in objects.items() if there.get(n) == size}
    state = (
        "loaded" if _receipted(seed, receipts) or len(arrived) == len(objects) else "loading" if arrived else "shipping"
    )
    return SeedProgress(state, len(objects), len(arrived), sum(objects.values()), sum(arrived.values()))
