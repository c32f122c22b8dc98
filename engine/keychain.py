"""Secrets in the OS keychain (macOS Keychain, Secret Service, Windows Credential Locker).

The only importer of `keyring`, imported on first use (it costs 55 ms at start-up, which a
backup with BACKBEAT_PASSWORD set never needs). There is no plaintext fallback: where no
keychain backend exists, `available()` says so and callers ask for the secret another way.
"""

from __future__ import annotations

import functools

__all__ = ["available", "get_secret", "set_secret", "delete_secret"]

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


def delete_secret(name: str) -> None:
    if available():
        keyring = _keyring()
        try:
            keyring.delete_password(_SERVICE, name)
        except keyring.errors.KeyringError:
            pass
