"""How many of a Photos library's originals are only in iCloud ("Optimize Mac Storage").

Photos keeps a library as a folder (`*.photoslibrary`): originals under `originals/0`…`originals/F`,
and its catalogue in `database/Photos.sqlite`, whose `ZASSET` table names each photo's or video's
original by `ZDIRECTORY` and `ZFILENAME`. With Optimize Mac Storage, Photos keeps only small
copies on the Mac and the originals in iCloud: a backup of the library's files then holds no
original of those, and the user must be told (Photos' own setting, "Download Originals to this
Mac", is the remedy). Apple does not document this catalogue: the table and columns are those
every reader of it uses (osxphotos, forensic write-ups) since Photos 6 (macOS 11); a library this
cannot read gives no answer rather than a wrong one. The catalogue is opened read-only and
immutable: no lock, no journal, nothing written into the user's library.
"""

from __future__ import annotations

import os
import sqlite3
from urllib.parse import quote

__all__ = ["originals_in_icloud", "describe", "LIBRARY_SUFFIX"]

#: what a Photos library's folder name ends with
LIBRARY_SUFFIX = b".photoslibrary"
_ASSETS = "SELECT ZDIRECTORY, ZFILENAME FROM ZASSET WHERE ZTRASHEDSTATE = 0"


def describe(missing: int, listed: int | None = None) -> str:
    """Originals only in iCloud, in plain words, with what to do (Photos' own setting)."""
    of = f" of the {listed} originals of this library" if listed is not None else " originals"
    return (
        f"Photos keeps {missing}{of} only in iCloud (Optimize Mac Storage): they are not in this backup. "
        "To back them up, choose Photos > Settings > iCloud > Download Originals to this Mac (the Mac needs "
        "room for them); the next backup takes them."
    )


def originals_in_icloud(library: bytes) -> tuple[int, int] | None:
    """(originals not in the library's folder, originals it lists) of the Photos library at
    `library`; None when it has no catalogue this can read (not Photos', an older one, no access)."""
    catalogue = os.path.join(library, b"database", b"Photos.sqlite")
    if not os.path.isfile(catalogue):
        return None
    try:
        db = sqlite3.connect(f"file:{quote(os.fsdecode(catalogue))}?mode=ro&immutable=1", uri=True)
        try:
            rows = db.execute(_ASSETS).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    originals = os.path.join(library, b"originals")
    listed = missing = 0
    for folder, name in rows:
        if not isinstance(folder, str) or len(folder) != 1 or not name:
            continue  # not kept under originals/ (a shared album's photo, say)
        listed += 1
        if not os.path.lexists(os.path.join(originals, os.fsencode(folder), os.fsencode(name))):
            missing += 1
    return missing, listed
