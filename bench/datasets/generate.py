"""A home folder of a chosen size, the same bytes and times for the same (size, seed) on every run.

    python -m bench.datasets generate DEST [--size-mb 64] [--seed 1]

The mix is what a home user's backup holds, by share of bytes: photos with their sidecars, music,
films, documents (compressible text, PDFs half text), mail (many small messages), source trees with
git objects (many tiny read-only files), downloads (archives, a disk image, a copy of a photo), and
a Desktop of the awkward: odd and non-UTF-8 names, a 250-byte name, empty files and folders,
symlinks (relative, to a folder, dangling), private and executable modes, extended attributes. File
counts grow with the size (a 64 MiB tree has ~1,900 files, 1 GiB ~29,000). Times are spread over
years before a fixed day, never "now", so a tree made today equals one made next year and no file
looks freshly written to a backup.

Media bytes are BLAKE3's output keyed by the seed and the path (incompressible, unique per file);
text is drawn from a vocabulary made from the seed (zstd shrinks it about 3x).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import blake3

__all__ = ["BASE_TIME", "Text", "generate", "media_bytes", "set_time"]

#: The day every generated time counts back from (and mutations count forward from).
BASE_TIME = int(datetime(2026, 6, 1, 9, 0, tzinfo=UTC).timestamp())
DAY = 86400
MIB = 1 << 20

#: Share of the bytes by kind; the Desktop's odd entries come on top (a few KiB).
SHARES = {
    "photos": 0.30,
    "videos": 0.20,
    "music": 0.14,
    "documents": 0.12,
    "downloads": 0.10,
    "mail": 0.07,
    "source": 0.07,
}

_SYLLABLES = ["ka", "lo", "mi", "ter", "an", "sul", "ve", "dor", "pri", "ne", "ot", "ra", "est", "bu", "che", "il"]


def media_bytes(seed: int, name: str, size: int) -> bytes:
    """Incompressible bytes, unique to (seed, name), made at ~1 GiB/s."""
    return blake3.blake3(f"{seed}:{name}".encode()).digest(length=size) if size else b""


class Text:
    """Compressible text: a vocabulary and a 1 MiB corpus made from the seed; a file is a header of
    its own and slices of the corpus at random places (so no two files share a long run)."""

    def __init__(self, rnd: random.Random) -> None:
        words = ["".join(rnd.choices(_SYLLABLES, k=rnd.randint(1, 4))) for _ in range(3000)]
        words += ["the", "and", "of", "to", "a", "in", "for", "is", "on", "that"] * 60
        lines, size = [], 0
        while size < MIB:
            line = " ".join(rnd.choices(words, k=rnd.randint(4, 18))).capitalize() + ".\n"
            lines.append(line)
            size += len(line)
        self.corpus = "".join(lines).encode()

    def make(self, rnd: random.Random, size: int, header: str = "") -> bytes:
        out = bytearray(header.encode())
        while len(out) < size:
            start = rnd.randrange(len(self.corpus) - 20_000)
            out += self.corpus[start : start + rnd.randint(500, 16_000)]
            out += f"{rnd.random():.9f}\n".encode()
        return bytes(out[:size])


def set_time(path: Path, when: int, *, follow: bool = True) -> None:
    os.utime(path, ns=(when * 10**9, when * 10**9 + 123_456_789), follow_symlinks=follow)


def _set_xattr(path: Path, name: str, value: bytes) -> None:
    """Where the OS and file system have user extended attributes; elsewhere the tree goes without."""
    if hasattr(os, "setxattr"):
        try:
            os.setxattr(path, name, value)
        except OSError:
            pass


class _Writer:
    """Writes files against a byte budget per kind, each with a time `age_days` before BASE_TIME."""

    def __init__(self, root: Path, seed: int, size_mb: int) -> None:
        self.root, self.seed = root, seed
        self.rnd = random.Random(seed)
        self.text = Text(random.Random(seed))
        self.total = size_mb * MIB
        self.times: list[tuple[Path, int]] = []

    def file(self, rel: str, data: bytes, age_days: float, mode: int = 0o644) -> int:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, mode)
        self.times.append((path, BASE_TIME - int(age_days * DAY)))
        return len(data)

    def fill(self, share: float, one: Callable[[int, int], int]) -> None:
        """Calls one(i, left) until the share's bytes are written; `one` returns what it wrote."""
        left, i = int(self.total * share), 0
        while left > 0:
            left -= max(1, one(i, left))
            i += 1

    def size(self, low: int, high: int, left: int) -> int:
        return max(1, min(left, self.rnd.randint(low, high)))


def _photos(w: _Writer) -> None:
    def one(i: int, left: int) -> int:
        year = 2019 + i % 7
        month = 1 + (i * 5) % 12
        rel = f"Pictures/{year}/{year}-{month:02}/IMG_{1000 + i:04}.JPG"
        size = w.size(900_000, 4_500_000, left)
        jpeg = b"\xff\xd8\xff\xe1" + b"Exif\0\0MM" + media_bytes(w.seed, rel, size - 10)
        age = (2026 - year) * 365 - month * 30 + w.rnd.uniform(0, 25)
        wrote = w.file(rel, jpeg[:size], age)
        if i % 4 == 0:  # an editor's sidecar beside some
            xmp = f'<x:xmpmeta><rdf:Description xmp:Rating="{i % 5}" xmp:Label="{rel}"/></x:xmpmeta>\n'
            wrote += w.file(rel.replace(".JPG", ".xmp"), xmp.encode() * 8, age - 1)
        return wrote

    w.fill(SHARES["photos"], one)


def _videos(w: _Writer) -> None:
    names = ["Holiday 2023.mov", "Birthday.mp4", "School play.m4v", "Screen Recording 2025-02-11.mov"]

    def one(i: int, left: int) -> int:
        rel = f"Movies/{i + 1:02} {names[i % len(names)]}"
        return w.file(rel, media_bytes(w.seed, rel, w.size(6 * MIB, 40 * MIB, left)), 30 + 97 * i)

    w.fill(SHARES["videos"], one)


def _music(w: _Writer) -> None:
    artists = ["Nina Simone", "Os Mutantes", "Björk", "Fela Kuti", "The Beths", "Ryuichi Sakamoto"]

    def one(i: int, left: int) -> int:
        artist = artists[i // 6 % len(artists)]
        rel = f"Music/{artist}/Album {i // 12 + 1}/{i % 12 + 1:02} Track {i + 1}.mp3"
        return w.file(rel, media_bytes(w.seed, rel, w.size(2 * MIB, 8 * MIB, left)), 500 + i * 3)

    w.fill(SHARES["music"], one)


def _documents(w: _Writer) -> None:
    folders = ["Work/Reports", "Work/Meetings", "Home", "Taxes/2023", "Taxes/2024", "School", "Recipes"]
    kinds = [("txt", 2_000, 40_000), ("md", 1_000, 20_000), ("csv", 5_000, 300_000), ("pdf", 40_000, 900_000)]

    def one(i: int, left: int) -> int:
        ext, low, high = kinds[i % len(kinds)]
        rel = f"Documents/{folders[i % len(folders)]}/{['notes', 'letter', 'budget', 'plan'][i % 4]} {i:03}.{ext}"
        size = w.size(low, high, left)
        data = w.text.make(w.rnd, size, f"{rel}\n")
        if ext == "pdf":  # text streams beside embedded images
            data = b"%PDF-1.7\n" + data[: size // 2] + media_bytes(w.seed, rel, size - size // 2 - 9)
        wrote = w.file(rel, data, w.rnd.uniform(1, 1500), 0o600 if "Taxes" in rel else 0o644)
        if i % 9 == 0:
            _set_xattr(w.root / rel, "user.xdg.comment", f"reviewed {i}".encode())
        return wrote

    w.fill(SHARES["documents"], one)


def _mail(w: _Writer) -> None:
    def one(i: int, left: int) -> int:
        box = ["INBOX", "Sent Messages", "Archive"][i % 3]
        rel = f"Library/Mail/V10/Account-{i % 2}/{box}.mbox/Messages/{40_000 + i}.emlx"
        header = f"From: friend{i % 37}@example.org\nSubject: Re: plans {i}\nDate: day {i}\n\n"
        body = w.text.make(w.rnd, w.size(800, 12_000, left), header)
        if i % 11 == 0:  # an attachment, base64 as mail carries it
            body += b"\n" + media_bytes(w.seed, rel, 20_000).hex().encode()
        return w.file(rel, body, w.rnd.uniform(0, 900), 0o600)

    w.fill(SHARES["mail"], one)


def _source(w: _Writer) -> None:
    def one(i: int, left: int) -> int:
        project = f"Projects/{['website', 'thesis', 'scripts'][i // 200 % 3]}-{i // 600}"
        if i % 3 == 2:  # git's objects: tiny, zlib'd (incompressible), read-only
            digest = blake3.blake3(f"{w.seed}:{i}".encode()).hexdigest()[:40]
            rel = f"{project}/.git/objects/{digest[:2]}/{digest[2:]}"
            return w.file(rel, media_bytes(w.seed, rel, w.size(60, 3_000, left)), w.rnd.uniform(5, 400), 0o444)
        ext = ["py", "js", "css", "html", "tex"][i % 5]
        rel = f"{project}/src/{['core', 'util', 'view', 'test'][i % 4]}/module_{i:04}.{ext}"
        data = w.text.make(w.rnd, w.size(150, 9_000, left), f"# {rel}\n")
        mode = 0o755 if i % 50 == 0 else 0o644
        return w.file(rel, data, w.rnd.uniform(5, 400), mode)

    w.fill(SHARES["source"], one)
    projects = sorted(p for p in (w.root / "Projects").iterdir())
    os.symlink("src", projects[0] / "current")  # a link to a folder, relative


def _downloads(w: _Writer) -> None:
    photos = sorted((w.root / "Pictures").rglob("*.JPG"))

    def one(i: int, left: int) -> int:
        if i == 0 and photos and photos[0].stat().st_size <= left:  # a photo saved twice: stored once
            return w.file("Downloads/IMG_copy.JPG", photos[0].read_bytes(), 3)
        kind = ["zip", "dmg", "pdf"][i % 3]
        rel = f"Downloads/download-{i:02}.{kind}"
        wrote = w.file(rel, media_bytes(w.seed, rel, w.size(300_000, 12 * MIB, left)), w.rnd.uniform(1, 300))
        _set_xattr(w.root / rel, "user.xdg.origin.url", f"https://example.org/files/{i}".encode())
        return wrote

    w.fill(SHARES["downloads"], one)


def _desktop(w: _Writer) -> None:
    """The awkward entries every home has a few of."""
    odd = [
        "café ünïcode ✓.txt",
        "Cafe\u0301 decomposed.txt",  # NFD, as older Macs write names
        "spaces  and\ttab.txt",
        "-leading dash.txt",
        ".hidden",
        "emoji 😀 report.txt",
        "x" * 246 + ".txt",  # a 250-byte name
        "UPPER lower MiXeD.TXT",
    ]
    for i, name in enumerate(odd):
        w.file(f"Desktop/{name}", w.text.make(w.rnd, 100 + 37 * i, f"{name}\n"), 2 + i)
    w.file("Desktop/empty file", b"", 10)
    (w.root / "Desktop" / "empty folder").mkdir()
    w.file("Desktop/run-me.sh", b"#!/bin/sh\necho backed up\n", 50, 0o755)
    w.file("Desktop/private.key", media_bytes(w.seed, "private.key", 3_243), 200, 0o600)
    w.file("Desktop/read only.txt", b"do not change\n", 400, 0o444)
    try:  # a Linux-only name: bytes that are not UTF-8 (APFS refuses them)
        raw = os.path.join(os.fsencode(w.root / "Desktop"), b"latin1-\xe9t\xe9 \xff.txt")
        with open(raw, "wb") as f:
            f.write(b"old name encoding\n")
        w.times.append((Path(os.fsdecode(raw)), BASE_TIME - 3000 * DAY))
    except OSError:
        pass
    links = {"link to letter": "café ünïcode ✓.txt", "dangling link": "/nonexistent/target", "up": ".."}
    for name, target in links.items():
        os.symlink(target, w.root / "Desktop" / name)


def generate(dest: Path, size_mb: int = 64, seed: int = 1) -> Path:
    """Write the tree at `dest` (which must not exist yet) and return it."""
    dest = Path(dest)
    dest.mkdir(parents=True)
    w = _Writer(dest, seed, size_mb)
    for kind in (_photos, _videos, _music, _documents, _mail, _source, _downloads, _desktop):
        kind(w)
    for path, when in w.times:
        set_time(path, when)
    _stamp_links_and_folders(dest, seed)
    return dest


def _stamp_links_and_folders(root: Path, seed: int) -> None:
    """Links and folders get their times last (writing inside a folder moves its time), deepest first."""
    rnd = random.Random(f"folders:{seed}")
    for dirpath, dirnames, filenames in sorted(os.walk(root), key=lambda e: -e[0].count(os.sep)):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            if path.is_symlink():
                set_time(path, BASE_TIME - rnd.randrange(1, 900) * DAY, follow=False)
        for name in sorted(dirnames):
            path = Path(dirpath) / name
            if not path.is_symlink():
                set_time(path, BASE_TIME - rnd.randrange(1, 900) * DAY)
    set_time(root, BASE_TIME)
