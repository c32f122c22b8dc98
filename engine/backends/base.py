"""The Backend protocol: a flat store of immutable, named objects.

Names are slash-separated (`config`, `keys/<id>`, `data/<2 hex>/<pack id>`, `index/<id>`,
`snapshots/<id>`). A `put` is atomic: readers see the whole object or nothing, so an interrupted
write never leaves a half object under a real name. Backends raise the errors of
`engine.base.errors` (ObjectNotFound, DestinationFull, TransientBackendError, BackendError) so that
callers can tell a missing object from a full disk from a network blip.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Protocol

from engine.base.errors import ForeignName

__all__ = [
    "Backend",
    "MOST",
    "pack_name",
    "list_packs",
    "pack_ids",
    "packs_in",
    "is_object_name",
    "check_object_name",
    "repository_names",
    "readable",
]

#: every name a repository holds: anything else a destination lists is not ours, and a name from a
#: destination is never used (as a local path, say) before it is checked against this
_NAME = re.compile(r"config|(?:keys|index|snapshots|locks|seeds)/[0-9a-f]{64}|data/([0-9a-f]{2})/\1[0-9a-f]{62}")
_log = logging.getLogger(f"backbeat.{__name__}")  # under the product's log: its file, its redaction


class Backend(Protocol):
    location: str
    #: local folders and seed drives are never throttled; network destinations are.
    is_network: bool

    def put(self, name: str, data: bytes | memoryview) -> None: ...

    def put_file(self, name: str, path: str) -> None:
        """Store the file at `path` (already complete and fsynced) as `name`; the file may be moved."""
        ...

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes: ...

    def size(self, name: str) -> int: ...

    def list(self, prefix: str) -> list[str]: ...

    def list_sizes(self, prefix: str) -> dict[str, int]:
        """name -> size for every object under `prefix`."""
        ...

    def list_md5(self, prefix: str) -> dict[str, str]:
        """name -> MD5 (hex) of the content of the objects under `prefix` for which the server says
        it in its listing (an S3 ETag of a single-part upload); none where it does not (a folder)."""
        ...

    def delete(self, name: str) -> None: ...

    def exists(self) -> bool:
        """Whether the location holds a repository (a `config` object)."""
        ...


def is_object_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def check_object_name(name: str, location: str) -> str:
    """`name`, when it is one a repository holds; refused otherwise (`../`, other folders, junk)."""
    if not is_object_name(name):
        raise ForeignName(f"{name!r} at {location}")
    return name


def repository_names(names: dict[str, int], location: str) -> dict[str, int]:
    """A listing without what is not a repository object's name (logged, never used)."""
    foreign = [n for n in names if not is_object_name(n)]
    for name in foreign[:10]:
        _log.warning("%s: ignored an object that is not Backbeat's: %r", location, name)
    return {n: size for n, size in names.items() if is_object_name(n)} if foreign else names


#: the most an object of each kind holds (packs are read in verified spans, never whole): one that
#: is bigger is damage or planted junk, never read into memory (a 2 GiB "snapshot" was)
MOST = {
    "config": 1 << 20,
    "keys/": 1 << 20,
    "locks/": 1 << 20,
    "seeds/": 1 << 20,
    "snapshots/": 64 << 20,
    "index/": 1 << 30,
}


def readable(backend: Backend, prefix: str, too_big: Callable[[str, int], None] | None = None) -> list[str]:
    """The names under `prefix` (`keys/`, `snapshots/`…) of objects small enough to be what they
    say; each other one goes to `too_big(name, size)` (or the log), unread."""
    out = []
    for name, size in sorted(backend.list_sizes(prefix).items()):
        if size <= MOST[prefix]:
            out.append(name)
        elif too_big is not None:
            too_big(name, size)
        else:
            _log.warning("%s: %s holds %d bytes, too many for what it is: not read", backend.location, name, size)
    return out


def pack_name(pack_id: bytes) -> str:
    hexid = pack_id.hex()
    return f"data/{hexid[:2]}/{hexid}"


def list_packs(backend: Backend) -> dict[bytes, int]:
    """pack id -> size, for every pack the destination holds (the inverse of `pack_name`)."""
    return packs_in(backend.list_sizes("data/"))


def packs_in(listing: dict[str, int]) -> dict[bytes, int]:
    """pack id -> size, for the packs (`data/…`) of a listing already made."""
    return {_pack_id(n): size for n, size in listing.items() if n.startswith("data/")}


def pack_ids(names: Iterable[str]) -> set[bytes]:
    """The ids of the packs (`data/…`) among object names."""
    return {_pack_id(n) for n in names if n.startswith("data/")}


def _pack_id(name: str) -> bytes:
    return bytes.fromhex(name.rsplit("/", 1)[-1])
