"""keys/<id>: the master key wrapped by a key derived from a passphrase.

A key file is plain JSON (nothing in it is secret without the passphrase): the Argon2id
parameters and salt beside the wrapped master key. Several key files may exist, one per
passphrase, so a passphrase can change without re-encrypting anything. Unlocking tries each key
file; none opening means a wrong passphrase, and nothing is changed.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass

from engine.backends.base import Backend, readable
from engine.base.errors import IntegrityError, NotARepository, WrongPassphrase
from engine.repo.crypto import MasterKey, derive_passphrase_key, named_by_content, open_with, plain_hash, seal_with

__all__ = ["KdfParams", "DEFAULT_KDF", "create_key", "unlock", "damaged_keys"]

_AAD = b"backbeat key v1"


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost. The default (64 MiB, 3 passes, 4 lanes: RFC 9106's second recommendation)
    takes about 0.14 s here; keys made with 2 passes (before 2026-12) open as before."""

    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4


DEFAULT_KDF = KdfParams()
_log = logging.getLogger(f"backbeat.{__name__}")  # under the product's log: its file, its redaction


def _reasonable(memory_kib: int, iterations: int, lanes: int) -> bool:
    """A cost a key file may ask for: at most 4 GiB and 64 passes (a minute or so on a laptop)."""
    return 8 <= memory_kib <= 4 << 20 and 1 <= iterations <= 64 and 1 <= lanes <= 64 and memory_kib >= 8 * lanes


def create_key(backend: Backend, master: MasterKey, passphrase: str, kdf: KdfParams = DEFAULT_KDF) -> str:
    """Wrap `master` with `passphrase` and store it as a new key file; returns its name."""
    salt = os.urandom(16)
    wrapping = derive_passphrase_key(passphrase.encode(), salt, kdf.memory_kib, kdf.iterations, kdf.lanes)
    doc = {
        "version": 1,
        "kdf": "argon2id",
        "memory_kib": kdf.memory_kib,
        "iterations": kdf.iterations,
        "lanes": kdf.lanes,
        "salt": base64.b64encode(salt).decode(),
        "data": base64.b64encode(seal_with(wrapping, master.to_bytes(), _AAD)).decode(),
    }
    body = json.dumps(doc, indent=1, sort_keys=True).encode()
    name = plain_hash(body).hex()
    backend.put(f"keys/{name}", body)
    return name


def unlock(backend: Backend, passphrase: str) -> MasterKey:
    names = readable(backend, "keys/")
    if not names:
        raise NotARepository(
            "it has no key files (keys/ is empty or missing)",
            hint="Copy `keys/` from another destination of this backup (every destination holds the same keys).",
        )
    damaged = []
    for name in names:
        body = backend.get(name)
        try:
            if not named_by_content(name, body):
                raise ValueError
            doc = json.loads(body)
            salt, data = base64.b64decode(doc["salt"]), base64.b64decode(doc["data"])
            cost = int(doc["memory_kib"]), int(doc["iterations"]), int(doc["lanes"])
        except (ValueError, KeyError, TypeError):
            damaged.append(name)
            continue
        if doc.get("kdf") != "argon2id":
            continue
        if not _reasonable(*cost):  # planted to hang or exhaust this computer: never tried
            _log.warning("key file %s asks Argon2id for %s: out of bounds, not tried", name, cost)
            continue
        wrapping = derive_passphrase_key(passphrase.encode(), salt, *cost)
        try:
            return MasterKey.from_bytes(open_with(wrapping, data, _AAD, "key"))
        except IntegrityError:
            continue
    if damaged:
        raise IntegrityError(
            f"the key file {damaged[0]} is damaged, so the passphrase could not be tried against it",
            hint="Copy `keys/` from another destination of this backup (every destination holds the same keys).",
        )
    raise WrongPassphrase()


def damaged_keys(backend: Backend) -> list[str]:
    """Key files whose bytes no longer match their names (for `check`)."""
    return [name for name in readable(backend, "keys/") if not named_by_content(name, backend.get(name))]
