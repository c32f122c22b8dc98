"""What a file carries beyond its bytes comes back from a restore (issue 28): owner and group (by
name), extended attributes, POSIX ACLs, hard links as links, creation time kept where the system
gives it; what the system marks as not worth backing up is left out and said; a file whose content
is only in the cloud is never read. Real files on Linux; the Mac's answers through the platform
interface (tests/platform/test_darwin.py runs the real ones on a Mac)."""

from __future__ import annotations

import os
import struct

import pytest

from bench.datasets import assert_same_tree
from engine import platform
from engine.base.events import FileSkipped
from engine.platform.interface import CACHEDIR_SIGNATURE
from engine.platform.linux import LinuxPlatform
from engine.service import BackupService, Kind, access_problems
from tests.conftest import PASSWORD

NOBODY, NOGROUP = 65534, 65534
_ACL_TAGS = {"user_obj": 0x01, "user": 0x02, "group_obj": 0x04, "mask": 0x10, "other": 0x20}
_ANY = 0xFFFFFFFF


def _posix_acl(*entries: tuple[str, int, int]) -> bytes:
    """The value of `system.posix_acl_access` (version 2, then tag, permissions, id per entry)."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", _ACL_TAGS[t], p, i) for t, p, i in entries)


@pytest.fixture
def service(tmp_path):
    heard: list = []
    s = BackupService(str(tmp_path / "repo"), events=heard.append)
    s.init(PASSWORD)
    s.unlock(PASSWORD)
    s.heard = heard
    yield s
    s.close()


def _entries(service) -> dict[str, object]:
    return dict(service.list_files("latest"))


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to another user")
def test_owners_attributes_acls_and_hard_links_come_back(service, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "theirs.txt").write_text("nobody's letter\n")
    os.chown(src / "theirs.txt", NOBODY, NOGROUP)
    os.chown(src / "sub", NOBODY, 0)
    (src / "tagged.txt").write_text("tagged\n")
    os.setxattr(src / "tagged.txt", "user.colour", b"red")
    (src / "shared.txt").write_text("one file, three names\n" * 100)
    os.link(src / "shared.txt", src / "sub" / "again.txt")
    os.link(src / "shared.txt", src / "zz-third.txt")
    acl = _posix_acl(
        ("user_obj", 6, _ANY), ("user", 4, NOBODY), ("group_obj", 4, _ANY), ("mask", 4, _ANY), ("other", 0, _ANY)
    )
    os.setxattr(src / "tagged.txt", "system.posix_acl_access", acl)

    summary = service.backup([str(src)])
    assert summary.warnings == 0
    entries = _entries(service)
    theirs = entries["src/theirs.txt"].meta
    assert (theirs.uid, theirs.gid, theirs.user, theirs.group) == (NOBODY, NOGROUP, b"nobody", b"nogroup")
    birth = LinuxPlatform().birthtime_ns(os.fsencode(src / "theirs.txt"), os.lstat(src / "theirs.txt"))
    assert birth and theirs.birth_ns == birth  # ext4 keeps it; statx reads it
    links = {entries[p].meta.link for p in ("src/shared.txt", "src/sub/again.txt", "src/zz-third.txt")}
    assert len(links) == 1 and None not in links
    assert entries["src/tagged.txt"].meta.link is None

    service.restore("latest", str(tmp_path / "out"))
    out = tmp_path / "out" / "src"
    assert_same_tree(src, out)  # owners (as root), xattrs with the ACL, the three names as one file
    assert os.stat(out / "shared.txt").st_ino == os.stat(out / "sub" / "again.txt").st_ino
    assert os.stat(out / "shared.txt").st_nlink == 3
    assert os.getxattr(out / "tagged.txt", "system.posix_acl_access") == acl


def test_a_hard_link_whose_first_name_is_left_alone_is_restored_whole(service, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("linked\n")
    os.link(src / "a.txt", src / "b.txt")
    service.backup([str(src)])
    out = tmp_path / "out"
    (out / "src").mkdir(parents=True)
    (out / "src" / "a.txt").write_text("the user's own, kept\n")  # no --overwrite: the first name is left alone

    result = service.restore("latest", str(out))
    assert (out / "src" / "a.txt").read_text() == "the user's own, kept\n"
    # a.txt was not restored, so b.txt cannot be a link to it (that would be the user's file): it
    # is restored whole, with its own content
    kept = {os.path.basename(s.path): s.reason for s in result.kept}  # left as it is, and said
    assert "a.txt" in kept and "already exists" in kept["a.txt"] and not result.failed
    assert (out / "src" / "b.txt").read_text() == "linked\n"


def test_cache_folders_are_left_out_and_said(service, tmp_path):
    src = tmp_path / "src"
    (src / "cache").mkdir(parents=True)
    (src / "cache" / "CACHEDIR.TAG").write_bytes(CACHEDIR_SIGNATURE + b"\n# made by a browser\n")
    (src / "cache" / "blob.bin").write_bytes(os.urandom(50_000))
    (src / "not-a-cache").mkdir()
    (src / "not-a-cache" / "CACHEDIR.TAG").write_text("Signature: something else\n")
    (src / "letter.txt").write_text("keep me\n")

    summary = service.backup([str(src)])
    assert summary.left_out == 1 and summary.warnings == 0
    assert sorted(_entries(service)) == ["src", "src/letter.txt", "src/not-a-cache", "src/not-a-cache/CACHEDIR.TAG"]
    notes = [s for s in summary.skipped if not s.warning]
    assert [(os.path.basename(s.path), s.reason) for s in notes] == [
        ("cache", "a cache folder (it holds a CACHEDIR.TAG): left out")
    ]


class _ICloud(LinuxPlatform):
    """Linux with iCloud placeholders: the files whose inodes are in `evicted` have their content
    only in the cloud (on a Mac, `SF_DATALESS` in `st_flags`; Linux has no such thing)."""

    def __init__(self) -> None:
        super().__init__()
        self.evicted: set[int] = set()

    def dataless(self, st: os.stat_result) -> bool:
        return st.st_ino in self.evicted


class _ICloudDrive(_ICloud):
    """... that also downloads on demand: a placeholder's file holds zeros until `fetch` writes the
    content iCloud keeps (`cloud`, by path), as macOS materializes one; `evict` takes it back."""

    def __init__(self, metered: str | None = None) -> None:
        super().__init__()
        self.cloud: dict[bytes, bytes] = {}
        self.fetched: list[bytes] = []
        self.given_back: list[bytes] = []
        self.metered = metered

    def placeholder(self, path, content: bytes) -> None:
        path.write_bytes(bytes(len(content)))
        os.utime(path, ns=(1_700_000_000_000_000_000,) * 2)  # put in iCloud long ago
        self.cloud[os.fsencode(path)] = content
        self.evicted.add(path.stat().st_ino)

    def metered_network(self) -> str | None:
        return self.metered

    def fetch(self, path: bytes) -> None:
        self.fetched.append(path)
        st = os.lstat(path)
        with open(path, "r+b") as f:
            f.write(self.cloud[path])
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the content arrives; the file was not changed
        self.evicted.discard(st.st_ino)

    def evict(self, path: bytes) -> bool:
        self.given_back.append(path)
        self.evicted.add(os.lstat(path).st_ino)
        return True


def test_files_only_in_icloud_are_never_read_carried_forward_or_said(service, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    photo, new = src / "photo.jpg", src / "new-in-icloud.mov"
    body = os.urandom(300_000)
    photo.write_bytes(body)
    os.utime(photo, ns=(1_700_000_000_000_000_000,) * 2)
    service.backup([str(src)])

    # macOS evicts the photo's content (the same inode, size and mtime; its change time moves) and
    # a new film arrives only as a placeholder. Had a backup read either, it would read these zeros.
    with open(photo, "r+b") as f:
        f.write(bytes(len(body)))
    os.utime(photo, ns=(1_700_000_000_000_000_000,) * 2)
    new.write_bytes(bytes(2_000_000))
    icloud = _ICloud()
    icloud.evicted |= {photo.stat().st_ino, new.stat().st_ino}
    with platform.use(icloud):
        summary = service.backup([str(src)])

    assert (summary.bytes_read, summary.files_unchanged, summary.cloud_only) == (0, 1, 1)
    assert summary.cloud_only_bytes == 2_000_000
    (said,) = [s for s in summary.skipped if s.warning]
    assert said.reason.startswith("1 file(s) (1.9 MB) are only in iCloud, not on this Mac, and were not backed up.")
    assert "Download Now" in said.reason
    assert sorted(_entries(service)) == ["src", "src/photo.jpg"]  # the film is not claimed as backed up
    service.restore("latest", str(tmp_path / "out"))
    assert (tmp_path / "out" / "src" / "photo.jpg").read_bytes() == body  # carried forward, not the zeros


def test_files_only_in_icloud_are_downloaded_backed_up_and_given_back_when_the_user_asks(service, tmp_path):
    """Issue 28: the download-back-up-evict choice (off by default; never on a metered network)."""
    from engine.service import left_in_icloud

    src = tmp_path / "src"
    src.mkdir()
    film, notes = os.urandom(700_000), os.urandom(90_000)
    icloud = _ICloudDrive(metered="on a metered network (a phone's hotspot or a cellular link)")
    icloud.placeholder(src / "film.mov", film)
    icloud.placeholder(src / "notes.pages", notes)
    with platform.use(icloud):
        summary = service.backup([str(src)])  # the default: nothing downloaded
        assert (summary.cloud_only, summary.cloud_downloaded, icloud.fetched) == (2, 0, [])
        on_hotspot = service.backup([str(src)], download_from_icloud=True)  # asked, but on a phone's hotspot
        assert (on_hotspot.cloud_only, on_hotspot.cloud_downloaded, icloud.fetched) == (2, 0, [])
        said = sorted(s.reason for s in on_hotspot.skipped if s.warning)
        assert (
            said
            == ["only in iCloud, and not downloaded on a metered network (a phone's hotspot or a cellular link)"] * 2
        )
        assert "2 file(s) (771 KB) are only in iCloud" in left_in_icloud(service.snapshot("latest"))

        icloud.metered = None  # home again
        home = service.backup([str(src)], download_from_icloud=True)
        assert (home.cloud_only, home.cloud_downloaded, home.bytes_read) == (0, 2, 790_000)
        assert sorted(icloud.given_back) == sorted(icloud.fetched) == sorted(icloud.cloud)  # each given back
        assert left_in_icloud(service.snapshot("latest")) is None
        again = service.backup([str(src)], download_from_icloud=True)  # placeholders again: carried forward
        assert (again.files_unchanged, again.cloud_downloaded, len(icloud.fetched)) == (2, 0, 2)
    service.restore("latest", str(tmp_path / "out"))
    assert (tmp_path / "out" / "src" / "film.mov").read_bytes() == film
    assert (tmp_path / "out" / "src" / "notes.pages").read_bytes() == notes


def _photos_library(folder, assets: list[tuple[str, str, int]], present: list[str]):
    """A Photos library as Photos 6 and later keep one: `database/Photos.sqlite` with its ZASSET
    table (directory, file name, trashed state) and the originals that are on this computer."""
    import sqlite3

    library = folder / "Photos Library.photoslibrary"
    (library / "database").mkdir(parents=True)
    db = sqlite3.connect(library / "database" / "Photos.sqlite")
    db.execute(
        "CREATE TABLE ZASSET (Z_PK INTEGER PRIMARY KEY, ZDIRECTORY VARCHAR, ZFILENAME VARCHAR, ZTRASHEDSTATE INTEGER)"
    )
    db.executemany("INSERT INTO ZASSET (ZDIRECTORY, ZFILENAME, ZTRASHEDSTATE) VALUES (?, ?, ?)", assets)
    db.commit()
    db.close()
    for name in present:
        original = library / "originals" / name[0] / name
        original.parent.mkdir(parents=True, exist_ok=True)
        original.write_bytes(os.urandom(50_000))
    return library


def test_a_photos_library_with_originals_only_in_icloud_is_backed_up_as_files_and_said(service, tmp_path):
    """Issue 28: with Optimize Mac Storage, Photos keeps most originals only in iCloud; a backup of the
    library's files holds none of those, and the user is told, with Photos' own remedy."""
    from engine.service import left_in_icloud

    src = tmp_path / "Pictures"
    src.mkdir()
    assets = [
        ("A", "A1B2.heic", 0),  # on this Mac
        ("3", "3C4D.heic", 0),  # only in iCloud
        ("F", "F5E6.mov", 0),  # only in iCloud
        ("0", "0A0B.jpeg", 1),  # in the trash: not counted
        ("cloudsharing/data", "shared.jpeg", 0),  # a shared album's photo: kept elsewhere, not counted
    ]
    library = _photos_library(src, assets, present=["A1B2.heic"])
    catalogue = library / "database" / "Photos.sqlite"
    before = (catalogue.read_bytes(), catalogue.stat().st_mtime_ns)
    _photos_library(src / "Old", [], present=[]).joinpath("database", "Photos.sqlite").write_bytes(b"not sqlite")

    summary = service.backup([str(src)])
    assert summary.photos_in_icloud == 2
    (said,) = [s for s in summary.skipped if s.warning]
    assert said.path == str(library)
    assert said.reason.startswith("Photos keeps 2 of the 3 originals of this library only in iCloud (Optimize Mac")
    assert "Download Originals to this Mac" in said.reason
    assert (catalogue.read_bytes(), catalogue.stat().st_mtime_ns) == before  # read, never written
    assert sorted(p.name for p in (library / "database").iterdir()) == ["Photos.sqlite"]  # no journal left
    assert "Photos keeps 2 originals only in iCloud" in left_in_icloud(service.snapshot("latest"))
    service.restore("latest", str(tmp_path / "out"))
    assert_same_tree(src, tmp_path / "out" / "Pictures")  # the library's files, as files


def test_folders_carry_their_metadata_too(service, tmp_path):
    """(Trees from before metadata, version 1, still restore: tests/e2e/test_format_fixture.py.)"""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    service.backup([str(src)])
    folder = _entries(service)["src"]
    assert folder.kind == Kind.DIR and folder.meta is not None and folder.meta.uid == os.geteuid()
    assert not [e for e in service.heard if isinstance(e, FileSkipped) and e.warning]


class _NoFullDiskAccess(LinuxPlatform):
    """A Mac that has not been given Full Disk Access (Linux has no such grant)."""

    def full_disk_access(self) -> bool | None:
        return False


def test_a_missing_full_disk_access_is_a_problem_with_where_to_grant_it(service, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    assert access_problems() == []
    with platform.use(_NoFullDiskAccess()):
        (problem,) = access_problems()
        summary = service.backup([str(src)])
    assert problem.link == "x-apple.systempreferences:com.apple.preference.security?Privacy_AllFiles"
    assert "Full Disk Access" in problem.hint and "Mail" in problem.message
    (said,) = [s for s in summary.skipped if s.warning]
    assert said.path == "Full Disk Access" and said.reason == str(problem)
    assert summary.warnings == 1 and summary.snapshot_id  # the rest is backed up


def test_set_id_bits_stay_only_with_their_owner(tmp_path):
    """Without its owner (a restore by anyone but root, or an entry from before metadata), a
    set-user-ID file would run with the restorer's rights: the bits go."""
    from engine.base.metadata import Metadata
    from engine.jobs.target import OWNERS_BY_ID, OWNERS_BY_NAME, Owners, set_meta
    from engine.repo.tree import TreeEntry

    f = tmp_path / "tool"
    f.write_bytes(b"#!/bin/sh\n")
    mode_after = {}
    for case, meta, owners in (
        ("no metadata", None, OWNERS_BY_NAME),
        ("owners not restored", Metadata(NOBODY, NOGROUP, b"nobody", b"nogroup"), None),
        ("by name", Metadata(1234, 4321, b"nobody", b"nogroup"), OWNERS_BY_NAME),
        ("by number", Metadata(1234, 4321, b"nobody", b"nogroup"), OWNERS_BY_ID),
    ):
        if owners is not None and os.geteuid() != 0:
            continue
        fd = os.open(f, os.O_RDONLY)
        try:
            how = Owners(owners) if owners is not None else None
            assert set_meta(fd, TreeEntry(b"tool", Kind.FILE, 0o6755, 0, meta=meta), how) == []
        finally:
            os.close(fd)
        st = os.stat(f)
        mode_after[case] = (st.st_mode & 0o7777, st.st_uid if meta and owners else None)
    expected = {"no metadata": (0o755, None), "owners not restored": (0o755, None)}
    if os.geteuid() == 0:
        expected |= {"by name": (0o6755, NOBODY), "by number": (0o6755, 1234)}
    assert mode_after == expected
