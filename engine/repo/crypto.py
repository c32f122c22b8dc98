"""The repository's cryptography: keyed BLAKE3 ids, AES-256-GCM sealing, Argon2id wrapping.

The only importer of `cryptography` and `blake3`. A sealed message is a random 96-bit nonce,
then the AES-256-GCM ciphertext and its 16-byte tag; the associated data binds it to its
place (a blob's id and type, or the kind of object), so an object cannot be swapped for another.
The master key splits into an encryption key and an id key; ids are keyed so the server cannot
confirm that a known file is stored. Values derived for one purpose (the chunker's seed, the
config's MAC key) come from BLAKE3's `derive_key` with a context per purpose (format version 2);
version 1 repositories keyed a hash of the purpose string with the id key, which equals the blob
id of a data blob holding that string, so they keep that recipe and nothing new uses it.
"""

from __future__ import annotations

import os
import struct
import threading
from dataclasses import dataclass, replace

import blake3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from engine.base.errors import IntegrityError

__all__ = [
    "NONCE_SIZE",
    "TAG_SIZE",
    "SEAL_OVERHEAD",
    "MasterKey",
    "plain_hash",
    "plain_hasher",
    "derive_passphrase_key",
    "seal_with",
    "open_with",
]

NONCE_SIZE = 12
TAG_SIZE = 16
SEAL_OVERHEAD = NONCE_SIZE + TAG_SIZE
KEY_SIZE = 32
#: `derive_key` contexts are "<application> <date> <purpose>", fixed for ever (BLAKE3's advice)
CONTEXT_PREFIX = "Backbeat 2026-12-03 "


def plain_hash(data: bytes | memoryview) -> bytes:
    """Unkeyed BLAKE3: pack names, so any destination can verify a pack by its name."""
    return blake3.blake3(data, max_threads=1).digest()


def named_by_content(name: str, data: bytes | memoryview) -> bool:
    """True when an object named `prefix/…/HEX` holds bytes whose unkeyed BLAKE3 is HEX."""
    return plain_hash(data).hex() == name.rsplit("/", 1)[-1]


RECORD_MAC_SIZE = 16
_LENGTH = struct.Struct("<I").pack


class RecordMac:
    """A 16-byte keyed BLAKE3 over `parts` (each length-prefixed, so no two splits collide): a
    local record this computer wrote, checked before it is trusted (engine.local.state). The
    keyed hasher is made once and copied per record: a third cheaper, once per file per run."""

    def __init__(self, key: bytes) -> None:
        self._keyed = blake3.blake3(key=key, max_threads=1)

    def __call__(self, *parts: bytes) -> bytes:
        hasher = self._keyed.copy()
        for part in parts:
            hasher.update(len(part).to_bytes(4, "little"))
            hasher.update(part)
        return hasher.digest(RECORD_MAC_SIZE)

    def record(self, name: bytes, value: bytes) -> bytes:
        """`self(name, value)` in one update: a no-change backup checks one per file (0.3 us less)."""
        hasher = self._keyed.copy()
        hasher.update(b"%b%b%b%b" % (_LENGTH(len(name)), name, _LENGTH(len(value)), value))
        return hasher.digest(RECORD_MAC_SIZE)


def plain_hasher():
    """Incremental unkeyed BLAKE3, for packs written piece by piece."""
    return blake3.blake3(max_threads=1)


def seal_with(key: bytes, plaintext: bytes | memoryview, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_with(key: bytes, sealed: bytes | memoryview, aad: bytes, what: str = "object") -> bytes:
    if len(sealed) < SEAL_OVERHEAD:
        raise IntegrityError(f"{what} is truncated")
    view = memoryview(sealed)
    try:
        return AESGCM(key).decrypt(view[:NONCE_SIZE], view[NONCE_SIZE:], aad)
    except InvalidTag:
        raise IntegrityError(f"{what} failed authentication") from None


#: one Argon2id at a time in a process: OpenSSL's (which runs its lanes on threads) fails with
#: MemoryError or hangs when two derivations overlap (the app opens a repository from several threads)
_ARGON2 = threading.Lock()


def derive_passphrase_key(passphrase: bytes, salt: bytes, memory_kib: int, iterations: int, lanes: int) -> bytes:
    with _ARGON2:
        return _derive(passphrase, salt, memory_kib, iterations, lanes)


def _derive(passphrase: bytes, salt: bytes, memory_kib: int, iterations: int, lanes: int) -> bytes:
    return Argon2id(salt=salt, length=KEY_SIZE, iterations=iterations, lanes=lanes, memory_cost=memory_kib).derive(
        passphrase
    )


@dataclass(frozen=True)
class MasterKey:
    """The repository's secret: 32 bytes that encrypt, 32 bytes that key the blob ids."""

    encryption: bytes
    id_key: bytes
    #: the repository format whose recipe derives sub-keys (1: keyed hash; 2: `derive_key`)
    format: int = 2

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(KEY_SIZE), os.urandom(KEY_SIZE))

    @classmethod
    def from_bytes(cls, raw: bytes) -> MasterKey:
        if len(raw) != 2 * KEY_SIZE:
            raise IntegrityError("master key has the wrong length")
        return cls(raw[:KEY_SIZE], raw[KEY_SIZE:])

    def to_bytes(self) -> bytes:
        return self.encryption + self.id_key

    def blob_id(self, data: bytes | memoryview) -> bytes:
        return blake3.blake3(data, key=self.id_key, max_threads=1).digest()

    def for_format(self, version: int) -> MasterKey:
        """This key as a repository of that format version derives its sub-keys."""
        return replace(self, format=version)

    def subkey(self, purpose: str, length: int = 8) -> bytes:
        """A value derived for one purpose (for instance the chunker's seed), never the key itself."""
        if self.format == 1:
            return blake3.blake3(purpose.encode(), key=self.id_key).digest(length)
        return blake3.blake3(self.to_bytes(), derive_key_context=f"{CONTEXT_PREFIX}{purpose}").digest(length)

    def mac(self, purpose: str, data: bytes) -> bytes:
        """A MAC for a file kept outside the repository's sealed objects (a seed drive's manifest)."""
        return blake3.blake3(data, key=self.subkey(purpose, 32), max_threads=1).digest()

    def seal(self, plaintext: bytes | memoryview, aad: bytes) -> bytes:
        return seal_with(self.encryption, plaintext, aad)

    def open(self, sealed: bytes | memoryview, aad: bytes, what: str = "object") -> bytes:
        return open_with(self.encryption, sealed, aad, what)
