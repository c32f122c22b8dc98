"""First run and secrets: connect to a backup or create one, and what the OS keychain keeps.

Front ends reach the keychain only through here. `set_up` is the first run as one use case, the
same for the app's dialog and any other front end; `connect`, its first half, is also how Settings
checks a new destination before saving it. Both derive a key (Argon2id, about a second) and reach
the destination, so a GUI calls them off its own thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.base.errors import BackbeatError, OtherRepositoryThere, WrongPassphrase
from engine.base.home import default_repository
from engine.config.settings import update_settings
from engine.local import keychain
from engine.service.door import BackupService

__all__ = [
    "Connection",
    "connect",
    "keychain_available",
    "keychain_entry",
    "remembered_from_keychain",
    "remembered_passphrase",
    "remember_passphrase",
    "save_s3_keys",
    "set_up",
]


def keychain_available() -> bool:
    return keychain.available()


def keychain_entry(repo_id: str) -> str:
    """The name of a repository's passphrase in the keychain, as its own app shows it."""
    return keychain.passphrase_entry(repo_id)


def remembered_from_keychain(repo_id: str) -> str | None:
    return keychain.get_secret(keychain.passphrase_entry(repo_id)) if keychain.available() else None


def remembered_passphrase(repo_id: str) -> str | None:
    """From BACKBEAT_PASSWORD or the OS keychain; None when neither has it."""
    if "BACKBEAT_PASSWORD" in os.environ:
        return os.environ["BACKBEAT_PASSWORD"]
    return remembered_from_keychain(repo_id)


def remember_passphrase(repo_id: str, passphrase: str) -> bool:
    """Keep the passphrase in the OS keychain; False where there is none."""
    return keychain.available() and keychain.set_secret(keychain.passphrase_entry(repo_id), passphrase)


def save_s3_keys(location: str, access_key_id: str, secret_access_key: str) -> bool:
    """Keep a bucket's keys in the OS keychain (never in a file); False where there is none."""
    return keychain.available() and keychain.save_s3_credentials(location, access_key_id, secret_access_key)


@dataclass(frozen=True)
class Connection:
    repo_id: str
    #: True when there was no backup there and one was started
    created: bool


def connect(location: str | None, passphrase: str, *, existing: bool = False) -> Connection:
    """Reach the backup at `location` (None: the embedded one) and open it with the passphrase
    (nothing there changes), or, unless `existing`, create one there; the passphrase is then
    remembered. What Settings does before it saves a new destination, so a place that cannot be
    reached, or holds a backup this passphrase does not open, is said then, not at the next backup."""
    service = BackupService(location or str(default_repository()))
    try:
        there = service.backend.exists()
        if existing and not there:
            raise BackbeatError("there is no Backbeat backup there", hint="Check the place, or start a new backup.")
        if there:
            try:
                service.unlock(passphrase)
            except WrongPassphrase:
                if existing:
                    raise
                raise OtherRepositoryThere(
                    service.location,
                    hint="It was made with another passphrase. Choose an empty folder or bucket for this "
                    "backup; nothing was changed there.",
                ) from None
        else:
            service.init(passphrase)
        repo_id = service.repository_id()
        remember_passphrase(repo_id, passphrase)
        return Connection(repo_id, created=not there)
    finally:
        service.close()


def set_up(location: str, passphrase: str, folders: tuple[str, ...], *, existing: bool) -> str:
    """The first run: connect (or create), then save the choices. Returns the repository's id."""
    repo_id = connect(location, passphrase, existing=existing).repo_id
    update_settings(folders=folders, destination=location)
    return repo_id
