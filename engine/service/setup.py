"""First run and secrets: connect to a backup or create one, and what the OS keychain keeps.

Front ends reach the keychain only through here. `set_up` is the first run as one use case, the
same for the app's dialog and any other front end; it derives a key (Argon2id, about a second),
so a GUI calls it off its own thread.
"""

from __future__ import annotations

import os

from engine.base.errors import BackbeatError
from engine.config.settings import update_settings
from engine.local import keychain
from engine.service.door import BackupService

__all__ = [
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


def set_up(location: str, passphrase: str, folders: tuple[str, ...], *, existing: bool) -> str:
    """Connect to the backup at `location` (the passphrase must open it, and nothing there
    changes) or, unless `existing`, create one there; then remember the passphrase and save the
    choices. Returns the repository's id."""
    service = BackupService(location or None)
    try:
        there = service.backend.exists()
        if existing and not there:
            raise BackbeatError("there is no Backbeat backup there", hint="Check the place, or start a new backup.")
        if there:
            service.unlock(passphrase)
        else:
            service.init(passphrase)
        repo_id = service.repository_id()
        remember_passphrase(repo_id, passphrase)
        update_settings(folders=folders, destination=location)
        return repo_id
    finally:
        service.close()
