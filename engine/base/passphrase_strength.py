"""How strong a new passphrase is, in plain words: one rule for the command line and the app.

Length matters most for a passphrase (several words beat a short clever password), and nobody
can recover a forgotten one, so a weak one is said plainly before the backup depends on it.
"""

from __future__ import annotations

__all__ = ["MIN_LENGTH", "strength", "is_weak"]

#: shorter than this is refused by the app and needs a confirmation on the command line
MIN_LENGTH = 10


def is_weak(passphrase: str) -> bool:
    return len(passphrase) < MIN_LENGTH


def strength(passphrase: str) -> str:
    """A plain-words verdict: "Too short…", "Fair…" or "Strong."."""
    words = len(passphrase.split())
    if is_weak(passphrase):
        return "Too short: use at least four words, or 12 characters."
    if len(passphrase) < 16 and words < 3:
        return "Fair. A few more words would make it much stronger."
    return "Strong."
