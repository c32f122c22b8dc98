"""Two trees compared as a restore must reproduce them: names, types, content, modes, times (files,
folders and links, to the nanosecond), link targets, extended attributes (POSIX ACLs among them on
Linux), which names are one file (hard links), and where the system keeps them creation times and
BSD flags (macOS); owners and groups too when the comparer runs as root (only root can restore them).

    python -m bench.datasets compare A B      prints each difference; exit 0 when there is none

Both roots' own mode and time are compared too (a restore recreates the folder it was given).
Names are compared as bytes. Extended attributes the OS adds on its own are ignored (macOS's
quarantine and provenance marks, SELinux labels), and so are access times.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

import blake3

from engine.platform import current as platform

__all__ = ["assert_same_tree", "compare", "differences"]

#: Attributes an OS may add to a restored file without the backup having any part in it.
ADDED_BY_THE_OS = {"com.apple.provenance", "com.apple.quarantine", "security.selinux"}


@dataclass(frozen=True)
class Entry:
    kind: str  # "file", "dir", "link" or "other"
    mode: int
    mtime_ns: int
    content: str  # a file's BLAKE3 and size, a link's target, nothing for the rest
    xattrs: tuple[tuple[bytes, bytes], ...]
    #: "user:group" (compared when running as root)
    owner: str
    #: creation time and BSD flags where the system keeps them (0 elsewhere)
    birth_ns: int
    flags: int
    #: the other names of this file in the tree (hard links), sorted
    links: tuple[bytes, ...] = ()


def _xattrs(path: bytes) -> tuple[tuple[bytes, bytes], ...]:
    added = {n.encode() for n in ADDED_BY_THE_OS}
    return tuple((k, v) for k, v in platform().xattrs(path) if k not in added)


def _entry(path: bytes) -> Entry:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        kind, content = "link", os.fsdecode(os.readlink(path))
    elif stat.S_ISDIR(st.st_mode):
        kind, content = "dir", ""
    elif stat.S_ISREG(st.st_mode):
        digest = blake3.blake3()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        kind, content = "file", f"{st.st_size} bytes, blake3 {digest.hexdigest()[:16]}"
    else:
        kind, content = "other", stat.filemode(st.st_mode)
    system = platform()
    owner = f"{system.user_name(st.st_uid).decode()}:{system.group_name(st.st_gid).decode()}"
    birth = system.birthtime_ns(path, st) if system.sets_birthtime else 0  # Linux cannot set it back
    flags = system.flags(st) & system.restored_flags  # the file system's own (compression) are its business
    return Entry(kind, stat.S_IMODE(st.st_mode), st.st_mtime_ns, content, _xattrs(path), owner, birth, flags)


def _walk(root: Path) -> dict[bytes, Entry]:
    top = os.fsencode(root)
    entries = {b".": _entry(top)}
    names: dict[tuple[int, int], list[bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, top)
            entries[rel] = _entry(path)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                names.setdefault((st.st_dev, st.st_ino), []).append(rel)
    for group in names.values():
        for rel in group:
            entries[rel] = replace(entries[rel], links=tuple(sorted(r for r in group if r != rel)))
    return entries


def differences(a: Path, b: Path, limit: int = 50) -> list[str]:
    """What differs between the trees at `a` and `b`, one line each, the first `limit` of them (and a
    last line counting the rest)."""
    return _differences(_walk(a), _walk(b), limit)


_FIELDS = ("kind", "content", "mode", "mtime_ns", "xattrs", "birth_ns", "flags", "links") + (
    ("owner",) if os.geteuid() == 0 else ()
)


def _differences(left: dict[bytes, Entry], right: dict[bytes, Entry], limit: int) -> list[str]:
    found: list[str] = []
    for rel in sorted(left.keys() | right.keys()):
        name = os.fsdecode(rel)
        x, y = left.get(rel), right.get(rel)
        if x is None or y is None:
            found.append(f"only in {'B' if x is None else 'A'}: {name}")
            continue
        for field in _FIELDS:
            if field in ("mode", "birth_ns") and x.kind == "link":
                continue  # a link's own mode is the OS's to choose, and cannot be set on Linux
            got, want = getattr(y, field), getattr(x, field)
            if got != want:
                if field == "mode":
                    want, got = oct(want), oct(got)
                found.append(f"{field} differs: {name}: A has {want!r}, B has {got!r}")
    if len(found) > limit:
        found = found[:limit] + [f"… and {len(found) - limit} more"]
    return found


def compare(a: Path, b: Path) -> str:
    """One verdict line: 'OK: N entries identical' or 'DIFFERENT: …' with the first difference."""
    left = _walk(a)
    found = _differences(left, _walk(b), limit=50)
    if not found:
        return f"OK: {len(left)} entries identical"
    return f"DIFFERENT: {len(found)} difference(s), first: {found[0]}"


def assert_same_tree(a: Path, b: Path) -> None:
    """For tests: fails with every difference listed."""
    found = differences(a, b)
    assert not found, f"{a} and {b} differ:\n" + "\n".join(found)
