"""The index saved as its packed table, beside the local state: the next run opens it in one read.

Loading the index from the cache's index files parses every blob and sorts them all: for the
story's home (1.4 million blobs) 2.6-3.0 s and a peak of 280 MiB more, at every run of the CLI
and every start of the app (into a dict, as before: 1.7-2.0 s and 340 MiB). Saved, it is four
byte strings read straight into place (0.05 s, a peak of 68 MiB more), and the index files
written since are added on top. It is only ever a copy of what the index files say
(`Index.packed` refuses anything else: packs not yet named by an index file are never in it), it
names the index files it was built from, and it carries a MAC under the state's record key: one
that does not match, or names an index file the cache no longer holds (a prune rewrote them), is
not used, and the index is built from the index files again.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from array import array
from collections.abc import Set
from pathlib import Path
from typing import NamedTuple

from engine.repo.crypto import RECORD_MAC_SIZE, RecordMac
from engine.repo.index import Packed

__all__ = ["Saved", "load", "save"]

_log = logging.getLogger(f"backbeat.{__name__}")

_MAGIC = b"BBIX"
_VERSION = 1
#: magic, version, then the lengths of: names, packs, alternates, records, directory
_HEAD = struct.Struct("<4sIQQQQQ")
_MAC_NAME = b"saved index"


class Saved(NamedTuple):
    """A saved index, as read back."""

    #: the index files it holds: exactly their blobs
    names: frozenset[str]
    packed: Packed


def save(path: Path, mac: RecordMac, names: Set[str], packed: Packed) -> None:
    """Written aside and renamed into place: a reader finds the old one or the new one, whole. A
    failure (a full disk) costs only the speed-up: the next run builds the index again."""
    listed = "\n".join(sorted(names)).encode()
    directory = packed.directory.tobytes()
    parts = [listed, packed.packs, packed.alternates, packed.records, directory]
    head = _HEAD.pack(_MAGIC, _VERSION, *map(len, parts))
    aside = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")  # two loads may meet
    try:
        with open(os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:  # it is the user's
            for part in (head, *parts, mac(_MAC_NAME, head, *parts)):
                f.write(part)
        os.replace(aside, path)
    except OSError as e:
        _log.info("the index could not be saved for the next run (%s): it is built again then", e.strerror)
        aside.unlink(missing_ok=True)


def load(path: Path, mac: RecordMac) -> Saved | None:
    """The saved index, None when there is none or it is not whole and as this computer wrote it."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD.size)
            if len(head) != _HEAD.size:
                return None
            magic, version, *lengths = _HEAD.unpack(head)
            if magic != _MAGIC or version != _VERSION:
                return None
            parts = [f.read(n) for n in lengths]  # each read straight into its own bytes
            tag = f.read(RECORD_MAC_SIZE + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        _log.info("the saved index could not be read (%s): it is built again", e.strerror)
        return None
    if [len(p) for p in parts] != lengths or tag != mac(_MAC_NAME, head, *parts):
        _log.warning("the saved index %s is not whole, or was changed: it is built again from the index files", path)
        return None
    listed, packs, alternates, records, directory = parts
    names = frozenset(listed.decode().split("\n")) if listed else frozenset()
    return Saved(names, Packed(packs, alternates, records, array("I", directory)))
