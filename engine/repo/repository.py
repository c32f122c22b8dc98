"""One repository identity: its `config`, its keys, and the objects it names.

`config` is plain JSON (nothing secret): the repository id, the format version, the chunker's
and packer's parameters. Every destination of a backup set holds a copy of the same repository,
so `config` and `keys/` are identical everywhere. Opening needs the passphrase; the chunker's
gear seed is derived from the master key so chunk boundaries reveal nothing to the server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from engine.backends.base import MOST, Backend, list_packs, pack_name, readable
from engine.base.errors import (
    BackendError,
    IntegrityError,
    NotARepository,
    ObjectNotFound,
    RepositoryExists,
    RepositoryNotFound,
    UnsupportedFormat,
    UsageError,
)
from engine.repo.blob import MAX_BLOB
from engine.repo.crypto import MasterKey
from engine.repo.index import PackInfo, encode_index, open_index, read_pack_header
from engine.repo.keys import DEFAULT_KDF, KdfParams, create_key, unlock

__all__ = ["ChunkerParams", "Repository", "FORMAT_VERSION"]

#: what new repositories are made as; 1 (before sub-keys came from `derive_key`) is still read
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_log = logging.getLogger(f"backbeat.{__name__}")  # under the product's log: its file, its redaction
_COPY_CONFIG = "Copy `config` from another destination of this backup (every destination holds the same one)."


@dataclass(frozen=True)
class ChunkerParams:
    min_size: int = 256 * 1024
    avg_size: int = 1024 * 1024
    max_size: int = 8 * 1024 * 1024


class Repository:
    def __init__(self, backend: Backend, config: dict, key: MasterKey) -> None:
        self.backend = backend
        self.config = config
        self.key = key.for_format(config["version"])
        self.id: str = config["id"]
        c = config["chunker"]
        self.chunker = ChunkerParams(c["min_size"], c["avg_size"], c["max_size"])
        self.pack_size: int = config["pack_size"]
        #: index files never to be read again: this computer deleted them here (engine.jobs.session)
        self.refused_index: set[str] = set()
        #: what the destination did that the user should hear of, said once (engine.service)
        self.notices: list[str] = []
        self.chunker_seed = int.from_bytes(self.key.subkey("backbeat chunker seed", 7), "little")
        self.tree_seed = int.from_bytes(self.key.subkey("backbeat tree part seed", 4), "little")

    @classmethod
    def create(
        cls,
        backend: Backend,
        passphrase: str,
        *,
        chunker: ChunkerParams = ChunkerParams(),
        pack_size: int = 8 * 1024 * 1024,
        kdf: KdfParams = DEFAULT_KDF,
    ) -> Repository:
        if backend.exists():
            raise RepositoryExists(backend.location)
        config = {
            "version": FORMAT_VERSION,
            "id": os.urandom(16).hex(),
            "chunker": {"algorithm": "fastcdc2020", **chunker.__dict__},
            "pack_size": pack_size,
            "compression": "zstd",
        }
        problem = _config_problem(config)
        if problem:
            raise UsageError(f"the repository {problem}")
        key = MasterKey.generate().for_format(FORMAT_VERSION)
        config["mac"] = _config_mac(key, config)
        create_key(backend, key, passphrase, kdf)
        backend.put("config", json.dumps(config, indent=1, sort_keys=True).encode())
        return cls(backend, config, key)

    @classmethod
    def open(cls, backend: Backend, passphrase: str) -> Repository:
        config = cls.read_config(backend)
        key = unlock(backend, passphrase).for_format(config["version"])
        if "mac" in config and config["mac"] != _config_mac(key, config):
            raise IntegrityError(
                f"the `config` of {backend.location} is damaged or was altered",
                hint=_COPY_CONFIG,
            )
        return cls(backend, config, key)

    @property
    def authenticated(self) -> bool:
        """Whether `config` carries its MAC (repositories made before it existed do not; whoever
        opens one decides whether to trust it: engine.jobs.session)."""
        return "mac" in self.config

    def add_mac(self) -> None:
        """Give an older repository's `config` its MAC (the rest of it unchanged)."""
        self.config["mac"] = _config_mac(self.key, self.config)
        self.backend.put("config", json.dumps(self.config, indent=1, sort_keys=True).encode())

    @staticmethod
    def read_config(backend: Backend) -> dict:
        try:
            body = backend.get("config", 0, MOST["config"] + 1)
            if len(body) > MOST["config"]:
                raise ValueError("too big to be a config")
            config = json.loads(body)
        except ObjectNotFound:
            if _has_objects(backend):
                raise NotARepository(
                    f"{backend.location} (its `config` is missing)",
                    hint=_COPY_CONFIG,
                ) from None
            raise RepositoryNotFound(backend.location) from None
        except ValueError:
            raise NotARepository(
                f"{backend.location} (its `config` is damaged)",
                hint=_COPY_CONFIG,
            ) from None
        if not isinstance(config, dict) or "id" not in config:
            raise NotARepository(backend.location)
        if config.get("version") not in _READABLE_VERSIONS:
            raise UnsupportedFormat(f"version {config.get('version')}")
        problem = _config_problem(config)
        if problem:  # it names local files (the state, the outbox) and sizes memory: checked before any use
            raise NotARepository(f"{backend.location} (its `config` {problem})", hint=_COPY_CONFIG)
        return config

    # -- index files ---------------------------------------------------------------------
    def index_names(self) -> list[str]:
        """Index files small enough to be one (a bigger object is not read: its packs are indexed
        again from their own headers, as for a damaged index file), less the refused ones: an
        index file put back after this computer deleted it (a replay of an older state) names
        packs a prune may have removed since."""
        names = readable(self.backend, "index/")
        back = self.refused_index.intersection(names)
        if back:
            named = ", ".join(sorted(n.rsplit("/", 1)[-1][:8] for n in back))
            notice = (
                f"{len(back)} index file(s) this computer deleted at {self.backend.location} are there again "
                f"({named}): not used. The destination may have been put back to an older copy."
            )
            if notice not in self.notices:
                _log.warning("%s", notice)
                self.notices.append(notice)
        return [n for n in names if n not in back]

    def delete_index_files(self, names: Iterable[str]) -> None:
        """Delete index files (whoever calls records them as refused from now on)."""
        for name in names:
            with contextlib.suppress(ObjectNotFound):
                self.backend.delete(name)
            self.refused_index.add(name)

    def read_index(self, name: str) -> bytes:
        """An index file's body (`engine.repo.index.parse_index` lists its packs)."""
        return open_index(self.key, self.backend.get(name))

    def write_index(self, plain: bytes) -> str:
        """Write one index file with this body (`index_plain`); returns its name."""
        name, data = encode_index(self.key, plain)
        self.backend.put(name, data)
        return name

    def pack_ids(self) -> list[bytes]:
        return list(list_packs(self.backend))

    def pack_header(self, pack_id: bytes) -> PackInfo:
        return read_pack_header(self.backend, self.key, pack_id)

    def has_pack(self, pack_id: bytes) -> bool:
        try:
            self.backend.size(pack_name(pack_id))
            return True
        except ObjectNotFound:
            return False


def _config_mac(key: MasterKey, config: dict) -> str:
    """`config` is plain JSON (read before the passphrase is known), so the key vouches for it:
    changed chunker or pack parameters would otherwise go unnoticed. Version 1 wrote the JSON with
    Python's default separators (", " and ": "), version 2 without spaces."""
    separators = (", ", ": ") if key.format == 1 else (",", ":")
    body = json.dumps({k: v for k, v in config.items() if k != "mac"}, sort_keys=True, separators=separators)
    return key.mac("backbeat config", body.encode()).hex()


_ID = re.compile(r"[0-9a-f]{32}")
#: bounds on what `config` may ask for: chunk sizes a Mac can hold many of at once, and packs whose
#: offsets fit the header's 32 bits
_CHUNK_BOUNDS = (16 << 10, MAX_BLOB)
_PACK_BOUNDS = (16 << 10, (1 << 32) - 1)


def _config_problem(config: dict) -> str | None:
    """What is wrong with a `config` read from a destination (None when nothing is)."""
    if not isinstance(config.get("id"), str) or not _ID.fullmatch(config["id"]):
        return "names no valid repository id (32 hex digits)"
    chunker = config.get("chunker")
    sizes = [chunker.get(k) for k in ("min_size", "avg_size", "max_size")] if isinstance(chunker, dict) else []
    low, high = _CHUNK_BOUNDS
    if len(sizes) != 3 or not all(type(v) is int and low <= v <= high for v in sizes) or sizes != sorted(sizes):
        return f"asks for chunk sizes out of bounds ({low} to {high} bytes, min <= avg <= max)"
    pack = config.get("pack_size")
    if type(pack) is not int or not _PACK_BOUNDS[0] <= pack <= _PACK_BOUNDS[1]:
        return f"asks for a pack size out of bounds ({_PACK_BOUNDS[0]} to {_PACK_BOUNDS[1]} bytes)"
    return None


def _has_objects(backend: Backend) -> bool:
    try:
        return bool(backend.list("keys/") or backend.list("data/"))
    except BackendError:  # the location itself is missing: there is no repository there
        return False
