"""Two trees compared as a restore must reproduce them: names, types, content, modes, times (files,
folders and links, to the nanosecond), link targets and extended attributes.

    python -m bench.datasets compare A B      prints each difference; exit 0 when there is none

Both roots' own mode and time are compared too (a restore recreates the folder it was given).
Names are compared as bytes. Extended attributes the OS adds on its own are ignored (macOS's
quarantine and provenance marks, SELinux labels); hard links are not compared (a restore may bring
them back as copies), nor owners (a restore as a user cannot set them), nor access times.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import blake3

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


def _xattrs(path: bytes) -> tuple[tuple[bytes, bytes], ...]:
    if not hasattr(os, "listxattr"):
        return ()
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()
    out = []
    for name in sorted(n for n in names if n not in ADDED_BY_THE_OS):
        try:
            out.append((name.encode(), os.getxattr(path, name, follow_symlinks=False)))
        except OSError:
            out.append((name.encode(), b"<unreadable>"))
    return tuple(out)


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
    return Entry(kind, stat.S_IMODE(st.st_mode), st.st_mtime_ns, content, _xattrs(path))


def _walk(root: Path) -> dict[bytes, Entry]:
    top = os.fsencode(root)
    entries = {b".": _entry(top)}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            entries[os.path.relpath(path, top)] = _entry(path)
    return entries


def differences(a: Path, b: Path, limit: int = 50) -> list[str]:
    """What differs between the trees at `a` and `b`, one line each, the first `limit` of them (and a
    last line counting the rest)."""
    return _differences(_walk(a), _walk(b), limit)


def _differences(left: dict[bytes, Entry], right: dict[bytes, Entry], limit: int) -> list[str]:
    found: list[str] = []
    for rel in sorted(left.keys() | right.keys()):
        name = os.fsdecode(rel)
        x, y = left.get(rel), right.get(rel)
        if x is None or y is None:
            found.append(f"only in {'B' if x is None else 'A'}: {name}")
            continue
        for field in ("kind", "content", "mode", "mtime_ns", "xattrs"):
            if field == "mode" and x.kind == "link":
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
