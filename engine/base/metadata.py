"""What a file carries beyond its mode, times and extended attributes: owner, creation time, BSD
flags, ACL, and which names are one file (hard links).

The platform layer fills it with what this system can tell; trees store it (tree version 3); a
restore sets back what the system allows and says what it could not. A field a system cannot
tell is 0 or empty, and a restore leaves it alone.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Metadata"]


class Metadata(NamedTuple):
    uid: int
    gid: int
    #: the owner's and group's names at backup: a restore on another computer maps by name first
    user: bytes = b""
    group: bytes = b""
    #: creation time in nanoseconds; 0 when the system does not keep one
    birth_ns: int = 0
    #: BSD file flags (`chflags`: hidden, locked, ...); macOS only
    flags: int = 0
    #: an extended ACL as text (macOS `acl_to_text`); Linux's POSIX ACLs travel as extended attributes
    acl: bytes = b""
    #: for a file with more than one name, its device and inode: equal for all its names in a snapshot
    link_dev: int = 0
    link_ino: int = 0

    @property
    def link(self) -> tuple[int, int] | None:
        """The identity its names share, or None for a file with one name."""
        return (self.link_dev, self.link_ino) if self.link_ino else None
