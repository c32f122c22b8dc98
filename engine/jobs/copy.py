"""Copy: bring one destination of a repository up to date with another, verifying every object.

Every object is immutable and named by the BLAKE3 of its bytes (`config` aside), so "what is
missing" is a set difference of two listings, and each copied object is checked against its
name before it is written: damage at the source is reported, never spread. No passphrase is
needed: sealed objects are copied as they are. Order keeps the destination consistent at every
moment: `config` and keys, then packs, then index files, then snapshots.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from engine.backends.base import Backend, list_packs
from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import OtherRepositoryThere
from engine.base.events import EventSink
from engine.base.progress import Meter
from engine.jobs.needs import Needs
from engine.local.state import State
from engine.repo.pack import matches_name
from engine.repo.repository import Repository

__all__ = ["NEEDS", "CopyReport", "run_copy"]

#: no lock: it only adds objects the target lacks, and reads no key; paced to the target
NEEDS = Needs("copy", paced=True)

_ORDER = ("keys/", "data/", "index/", "snapshots/")


@dataclass
class CopyReport:
    objects_copied: int = 0
    bytes_copied: int = 0
    objects_present: int = 0
    errors: list[str] = field(default_factory=list)
    #: objects damaged at the source, not copied (also said in `errors`)
    damaged: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _same_repository(src: Backend, dst: Backend) -> dict:
    config = Repository.read_config(src)
    if dst.exists():
        theirs = Repository.read_config(dst)
        if theirs["id"] != config["id"]:
            raise OtherRepositoryThere(
                f"{dst.location} holds another repository",
                hint="Copy only between destinations of the same backup set, or choose an empty location.",
            )
    return config


def run_copy(src: Backend, dst: Backend, state: State | None = None, events: EventSink = lambda ev: None) -> CopyReport:
    report = CopyReport()
    _same_repository(src, dst)
    if not dst.exists():
        dst.put("config", src.get("config"))
    todo: list[tuple[str, int]] = []
    for prefix in _ORDER:
        there = dst.list_sizes(prefix)
        for name, size in sorted(src.list_sizes(prefix).items()):
            if there.get(name) == size:
                report.objects_present += 1
            else:
                todo.append((name, size))
    meter = Meter(SYSTEM_CLOCK, len(todo), sum(size for _, size in todo))

    lock = threading.Lock()

    def copy_one(name: str) -> None:
        data = src.get(name)
        if not matches_name(name, data):
            with lock:
                report.errors.append(f"{name} is damaged at {src.location}; not copied")
                report.damaged.append(name)
            return
        dst.put(name, data)
        with lock:
            report.objects_copied += 1
            report.bytes_copied += len(data)
            meter.add(len(data), files=1)
            events(meter.event("copying"))

    workers = 4 if dst.is_network or src.is_network else 1
    for prefix in _ORDER:  # one prefix at a time: nothing lands before what it depends on
        batch = [name for name, _ in todo if name.startswith(prefix)]
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(copy_one, batch))
    if state is not None:
        state.set_held(dst.location, list_packs(dst))
        state.set_held(src.location, list_packs(src))
    return report
