"""keys/<id>: the master key wrapped by a key derived from a passphrase.

A key file is plain JSON (nothing in it is secret without the passphrase): the Argon2id
parameters and salt beside the wrapped master key. Several key files may exist, one per
passphrase, so a passphrase can change without re-encrypting anything. Unlocking tries each key
file; none opening means a wrong passphrase, and nothing is changed.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass

from engine.backends.base import Backend
from engine.errors import IntegrityError, NotARepository, WrongPassphrase
from engine.repo.crypto import MasterKey, derive_passphrase_key, open_with, plain_hash, seal_with

__all__ = ["KdfParams", "DEFAULT_KDF", "create_key", "unlock"]

_AAD = b"backbeat key v1"


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost. The default (64 MiB, 2 passes, 4 lanes) takes about 0.1 s here."""

    memory_kib: int = 64 * 1024
    iterations: int = 2
    lanes: int = 4


DEFAULT_KDF = KdfParams()


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
    names = backend.list("keys/")
    if not names:
        raise NotARepository("it has no keys/ folder")
    for name in names:
        doc = json.loads(backend.get(name))
        if doc.get("kdf") != "argon2id":
            continue
        wrapping = derive_passphrase_key(
            passphrase.encode(),
            base64.b64decode(doc["salt"]),
            int(doc["memory_kib"]),
            int(doc["iterations"]),
            int(doc["lanes"]),
        )
        try:
            return MasterKey.from_bytes(open_with(wrapping, base64.b64decode(doc["data"]), _AAD, "key"))
        except IntegrityError:
            continue
    raise WrongPassphrase()
