"""The order in which a run reads, and so uploads, new and changed files.

On a slow line the first upload takes weeks, and what reaches the destination first is what is
safe first. So a run goes by value, not by path: recently changed documents and small files
before large media and disk images (CrashPlan goes newest first, Backblaze smallest first; we
weigh both, and the kind of file).

Score, lower goes first, counted in "doublings of size":

    score = log2(size in KiB + 1)                      1 KiB -> 1, 1 MiB -> 10, 1 GiB -> 20
          + kind   documents 0, photos 2, anything else 4, audio and video 8,
                   disk images, archives and virtual machines 12
          - recent 6 when changed within `recent_days`, 3 within four times that

so a 2 MiB letter written this week (score 5) goes before a 200 KiB old photo (10), which goes
before a 40 MiB film from last month (~31) and a 4 GiB disk image (~34). Ties keep tree order.

No file waits forever: after every `wait_bytes` of files taken from the front, the file that
would come last is taken next, so a huge file starts after at most that much has gone before it.
The order costs nothing on a fast line: the same files are read by the same threads, only sooner
or later. `order = "path"` keeps plain path order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["PrioritySettings", "score", "interleave", "kind_of"]

T = TypeVar("T")

_DOCUMENTS = frozenset(
    "doc docx dot dotx odt ott rtf txt md tex pages key numbers xls xlsx xlsm ods csv ppt pptx odp pdf "
    "eml emlx msg vcf ics one note epub ps indd psd ai sketch fig svg py js ts c h cpp java swift rb go rs".split()
)
_PHOTOS = frozenset("jpg jpeg heic heif png gif tif tiff raw cr2 cr3 nef arw dng orf rw2 webp bmp".split())
_MEDIA = frozenset("mov mp4 m4v avi mkv wmv mts m2ts 3gp webm mp3 m4a aac wav aif aiff flac ogg opus".split())
_BULK = frozenset(
    "dmg iso img sparseimage sparsebundle vmdk vdi qcow2 vhd vhdx hds zip tar gz tgz bz2 xz 7z rar pkg exe msi "
    "ipsw".split()
)
_KIND_PENALTY = {"document": 0.0, "photo": 2.0, "other": 4.0, "media": 8.0, "bulk": 12.0}
_DAY_NS = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class PrioritySettings:
    #: "smart" (the score above) or "path"
    order: str = "smart"
    #: files changed within this many days count as recent
    recent_days: int = 7
    #: bytes of better-placed files after which the last file gets its turn
    wait_bytes: int = 2 << 30

    def to_json(self) -> dict:
        return {"order": self.order, "recent_days": self.recent_days, "wait_bytes": self.wait_bytes}

    @classmethod
    def from_json(cls, doc: dict) -> PrioritySettings:
        d = cls()
        return cls(
            str(doc.get("order", d.order)),
            int(doc.get("recent_days", d.recent_days)),
            int(doc.get("wait_bytes", d.wait_bytes)),
        )


def kind_of(path: bytes | str) -> str:
    name = os.fsdecode(path).rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in _DOCUMENTS:
        return "document"
    if ext in _PHOTOS:
        return "photo"
    if ext in _MEDIA:
        return "media"
    if ext in _BULK:
        return "bulk"
    return "other"


def score(path: bytes | str, size: int, mtime_ns: int, now_ns: int, recent_days: int = 7) -> float:
    age = now_ns - mtime_ns
    recent = 6.0 if age <= recent_days * _DAY_NS else 3.0 if age <= 4 * recent_days * _DAY_NS else 0.0
    return math.log2(size / 1024 + 1) + _KIND_PENALTY[kind_of(path)] - recent


def interleave(
    front: Iterator[T], back: Iterator[T], count: int, size_of: Callable[[T], int], wait_bytes: float
) -> Iterator[T]:
    """The `count` items ranked best first (`front`) and worst first (`back`), in reading order:
    from the front, but after every `wait_bytes` taken from it, the worst left gets its turn."""
    since_last = 0
    for _ in range(count):
        if since_last >= wait_bytes:
            yield next(back)  # the one that would wait longest
            since_last = 0
            continue
        item = next(front)
        since_last += size_of(item)
        yield item
