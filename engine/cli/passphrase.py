"""Where the CLI finds the passphrase: BACKBEAT_PASSWORD, --password-file, the OS keychain, a prompt."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from engine.base.errors import EmptyPassphrase, NoPassphrase, PassphraseMismatch, UsageError
from engine.base.home import app_dir
from engine.base.passphrase_strength import is_weak, strength
from engine.service.setup import keychain_available, remembered_from_keychain

__all__ = ["find_passphrase", "new_passphrase"]


def _note_no_keychain() -> None:
    """Said once per installation: a note that repeats on every command is noise."""
    marker = app_dir() / "no-keychain-noted"
    if not marker.exists():
        print(
            "note: no OS keychain is available on this machine; the passphrase comes from "
            "BACKBEAT_PASSWORD, --password-file or a prompt.",
            file=sys.stderr,
        )
        marker.touch()


def _from_file(path: str) -> str:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise UsageError(f"cannot read the password file {path} ({e.strerror})") from None
    return text.rstrip("\r\n")


def find_passphrase(password_file: str | None, repo_id: str | None, prompt: bool = True) -> str:
    if "BACKBEAT_PASSWORD" in os.environ:
        return os.environ["BACKBEAT_PASSWORD"]
    if password_file:
        return _from_file(password_file)
    if repo_id is not None:
        if keychain_available():
            found = remembered_from_keychain(repo_id)
            if found is not None:
                return found
        else:
            _note_no_keychain()
    if prompt and sys.stdin.isatty():
        return getpass.getpass("Passphrase: ")
    raise NoPassphrase()


def new_passphrase(password_file: str | None) -> str:
    if "BACKBEAT_PASSWORD" in os.environ or password_file:
        value = find_passphrase(password_file, None)
    elif sys.stdin.isatty():
        value = getpass.getpass("New passphrase: ")
        if value and getpass.getpass("Repeat it: ") != value:
            raise PassphraseMismatch()
    else:
        raise NoPassphrase()
    if not value:
        raise EmptyPassphrase()
    if is_weak(value):
        print(f"warning: weak passphrase. {strength(value)} Nobody can recover a forgotten one.", file=sys.stderr)
        if sys.stdin.isatty() and input("Use it anyway? [y/N] ").strip().lower() not in ("y", "yes"):
            raise EmptyPassphrase("a stronger one was asked for")
    return value
