"""A week of a home user's changes to a generated tree, about 5% of its bytes, the same for the same
tree and seed.

    python -m bench.datasets mutate TREE [--seed 1]

What it does, each a case a backup must get right: documents edited (appended to, and one changed
in place with its size kept), a byte range inserted in the middle of a film or song (chunking must
resynchronise), new photos and new mail (new files, ~3% of the bytes), downloads and a few photos
deleted, an album folder renamed (moved bytes are not new bytes), a file touched without a change,
a file's mode changed. A tree can be mutated again and again: each round's new names are its own.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from bench.datasets.generate import BASE_TIME, DAY, Text, media_bytes, set_time

__all__ = ["mutate"]


def _files(root: Path, under: str, suffixes: tuple[str, ...]) -> list[Path]:
    top = root / under
    if not top.is_dir():
        return []
    return sorted(p for p in top.rglob("*") if p.suffix in suffixes and p.is_file() and not p.is_symlink())


def _fresh(path: Path) -> Path:
    """`path`, or `path 2`, `path 3`…: the first that does not exist (rounds never collide)."""
    n, candidate = 1, path
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.name} {n}")
    return candidate


def mutate(tree: Path, seed: int = 1) -> None:
    """Change `tree` in place as a week of use would."""
    started = time.time_ns()
    week = _Week(Path(tree), seed)
    week.edit_documents()
    week.insert_into_media()
    week.add_photos_mail_and_notes()
    week.delete_some()
    week.rename_an_album()
    week.touch_and_chmod()
    _stamp_folders(week.tree, started - 2 * 10**9, week.now + 240)


class _Week:
    def __init__(self, tree: Path, seed: int) -> None:
        self.tree, self.seed = tree, seed
        self.rnd = random.Random(f"mutate:{seed}")
        self.text = Text(random.Random(seed))
        self.now = BASE_TIME + seed % 1000 * DAY + 3600
        self.total = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())

    def edit_documents(self) -> None:
        rnd, docs = self.rnd, _files(self.tree, "Documents", (".txt", ".md", ".csv"))
        for path in rnd.sample(docs, min(len(docs), rnd.randint(4, 8))):
            with open(path, "ab") as f:
                f.write(self.text.make(rnd, rnd.randint(200, 4000), f"\nEdited in round {self.seed}\n"))
            set_time(path, self.now)
        if docs:  # a change that keeps the size: only the time and the bytes say it changed
            path = docs[rnd.randrange(len(docs))]
            data = bytearray(path.read_bytes())
            at = rnd.randrange(max(1, len(data) - 8))
            data[at : at + 8] = b"CHANGED!"[: len(data) - at]
            path.write_bytes(bytes(data))
            set_time(path, self.now + 60)

    def insert_into_media(self) -> None:
        """Bytes inserted mid-file: the chunks after the insertion must be found again."""
        media = _files(self.tree, "Movies", (".mov", ".mp4", ".m4v")) or _files(self.tree, "Music", (".mp3",))
        if media:
            path = media[self.rnd.randrange(len(media))]
            data = path.read_bytes()
            at = len(data) // 2 + self.rnd.randrange(1 + len(data) // 4)
            path.write_bytes(data[:at] + media_bytes(self.seed, f"insert:{path.name}", 64 * 1024) + data[at:])
            set_time(path, self.now + 120)

    def add_photos_mail_and_notes(self) -> None:
        rnd, now = self.rnd, self.now
        imported = _fresh(self.tree / "Pictures" / f"Imported {self.seed}")
        budget, i = int(self.total * 0.03), 0
        while budget > 0:
            size = max(1, min(budget, rnd.randint(600_000, 3_000_000)))
            name = f"IMG_{9000 + i}.JPG"
            _write(imported / name, media_bytes(self.seed, f"{imported.name}/{name}", size), now - i * 60)
            budget -= size
            i += 1
        mail = _fresh(self.tree / "Library" / "Mail" / "V10" / f"Account-new-{self.seed}") / "INBOX.mbox"
        for i in range(40):
            body = self.text.make(rnd, rnd.randint(700, 9000), f"Subject: news {self.seed}.{i}\n\n")
            _write(mail / "Messages" / f"{90_000 + i}.emlx", body, now - i * 300, 0o600)
        for i in range(5):
            note = self.text.make(rnd, 3000 + i, f"note {i}\n")
            _write(_fresh(self.tree / "Documents" / f"New note {self.seed}.{i}.txt"), note, now)

    def delete_some(self) -> None:
        """Up to 1.5% of the bytes, at least one file: downloads and photos."""
        doomed = _files(self.tree, "Downloads", (".zip", ".dmg", ".pdf")) + _files(self.tree, "Pictures", (".JPG",))
        self.rnd.shuffle(doomed)
        budget = int(self.total * 0.015)
        for n, path in enumerate(doomed):
            size = path.stat().st_size
            if n and size > budget:
                continue
            path.unlink()
            budget -= size

    def rename_an_album(self) -> None:
        """Its bytes moved, none are new."""
        albums = sorted({p.parent for p in _files(self.tree, "Music", (".mp3",))})
        if albums:
            album = albums[self.rnd.randrange(len(albums))]
            album.rename(_fresh(album.with_name(f"{album.name} (Remastered)")))

    def touch_and_chmod(self) -> None:
        """One file touched without a change, another made private."""
        files = _files(self.tree, "Documents", (".pdf", ".txt"))
        if files:
            set_time(files[0], self.now + 180)
        shared = [p for p in files[1:] if p.stat().st_mode & 0o077]
        if shared:
            os.chmod(shared[-1], 0o600)


def _stamp_folders(tree: Path, since_ns: int, when: int) -> None:
    """Folders whose entries changed (their time is the clock's, at or after `since_ns`) get this
    round's time: the tree stays the same for the same seed."""
    for dirpath, _, _ in os.walk(tree):
        if os.stat(dirpath).st_mtime_ns >= since_ns:
            set_time(Path(dirpath), when)


def _write(path: Path, data: bytes, when: int, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)
    set_time(path, when)
