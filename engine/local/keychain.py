"""Secrets in the OS keychain (macOS Keychain, Secret Service, Windows Credential Locker).

The only importer of `keyring`, imported on first use (it costs 55 ms at start-up, which a
backup with BACKBEAT_PASSWORD set never needs). There is no plaintext fallback: where no
keychain backend exists, `available()` says so and callers ask for the secret another way.
"""

from __future__ import annotations

import functools
import os

__all__ = ["available", "get_secret", "set_secret", "passphrase_entry", "s3_credentials", "save_s3_credentials"]

_SERVICE = "Backbeat"


@functools.cache
def _keyring():
    import keyring
    import keyring.errors

    return keyring


def available() -> bool:
    try:
        from keyring.backends import fail

        backend = _keyring().get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring configuration means "none"
        return False
    return not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 1) > 0


def get_secret(name: str) -> str | None:
    if not available():
        return None
    keyring = _keyring()
    try:
        return keyring.get_password(_SERVICE, name)
    except keyring.errors.KeyringError:
        return None


def set_secret(name: str, value: str) -> bool:
    """True when stored; False when no keychain can hold it."""
    if not available():
        return False
    keyring = _keyring()
    try:
        keyring.set_password(_SERVICE, name, value)
        return True
    except keyring.errors.KeyringError:
        return False


def passphrase_entry(repo_id: str) -> str:
    """The keychain entry holding a repository's passphrase."""
    return f"repository {repo_id}"


def _s3_entry(location: str) -> str:
    from engine.config.destination import parse_s3

    return f"s3 {parse_s3(location).endpoint or 'aws'}"


def s3_credentials(location: str):
    """Keys saved for this S3 service, unless the environment names its own (AWS_* variables, profiles)."""
    from engine.config.destination import is_s3

    if not is_s3(location) or "AWS_ACCESS_KEY_ID" in os.environ or "AWS_PROFILE" in os.environ:
        return None
    saved = get_secret(_s3_entry(location))
    if not saved or "\n" not in saved:
        return None
    from engine.backends.s3 import S3Credentials

    access, secret = saved.split("\n", 1)
    return S3Credentials(access, secret)


def save_s3_credentials(location: str, access_key_id: str, secret_access_key: str) -> bool:
    return set_secret(_s3_entry(location), f"{access_key_id}\n{secret_access_key}")
