"""A destination that turned against the user can do nothing to the user's computer: every name it
gives is checked before it becomes a local path, and its `config` before it sizes anything."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest

from engine.backends.local import LocalBackend
from engine.base.errors import ForeignName
from engine.repo.crypto import plain_hash
from tests.hostile_s3 import HostileS3

EVIL = "data/../../escape-s3/" + "ab" * 32


def _files(root) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


def test_a_hostile_repository_id_never_names_a_local_file(cli, tmp_path):
    """The id names the state database and the outbox folder: `../` in it reached a git
    repository beside the app-data folder (and a later run deleted a pack file there)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    cli("init")
    cli("backup", str(src))
    victim = tmp_path / "victim-git" / ".git" / "objects"
    (victim / "pack").mkdir(parents=True)
    (victim / "pack" / "pack-1234.pack").write_bytes(b"PACK")
    config = json.loads((cli.repo / "config").read_text())
    config["id"] = "../../victim-git/.git/objects/pack"
    del config["mac"]
    (cli.repo / "config").write_text(json.dumps(config))
    before = _files(tmp_path / "victim-git")
    for args in (["snapshots"], ["backup", str(src)], ["status"]):
        proc = cli(*args, ok=(1,))
        assert "names no valid repository id" in proc.stderr and "Traceback" not in proc.stderr
    assert _files(tmp_path / "victim-git") == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("pack_size", 5 << 30), ("pack_size", "8M"), ("chunker", {"min_size": 1, "avg_size": 2, "max_size": 3})],
)
def test_a_config_asking_for_sizes_out_of_bounds_is_refused(cli, tmp_path, field, value):
    cli("init")
    config = json.loads((cli.repo / "config").read_text())
    config[field] = value
    (cli.repo / "config").write_text(json.dumps(config))
    assert "out of bounds" in cli("snapshots", ok=(1,)).stderr


def test_init_refuses_a_pack_size_the_format_cannot_hold(cli):
    proc = cli("init", "--pack-size", "5G", ok=(2,))
    assert "pack size out of bounds" in proc.stderr and not cli.repo.exists()


def test_a_local_destination_refuses_names_that_are_not_a_repositorys(tmp_path):
    backend = LocalBackend(tmp_path / "repo")
    backend.put("config", b"{}")
    for name in (EVIL, "data/ab/../../../x", "/etc/passwd", "keys/short", "data/ab/" + "cd" * 32, "config/../x"):
        with pytest.raises(ForeignName, match="refused a name the destination gave"):
            backend.put(name, b"evil")
        with pytest.raises(ForeignName):
            backend.get(name)
    assert _files(tmp_path) == {"repo/config"}


def test_copy_from_a_hostile_s3_source_writes_nothing_outside_the_destination(cli, tmp_path):
    """The source lists a key with `../` in it: it is ignored (never a path), the rest is copied."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a" * 10_000)
    cli("init")
    cli("backup", str(src))
    objects = {f"repo/{name}": (cli.repo / name).read_bytes() for name in _files(cli.repo)}
    objects[f"repo/{EVIL}"] = b"chosen content"
    hostile = HostileS3(objects)
    try:
        dest = tmp_path / "work" / "dest"
        proc = cli("copy", "--from", hostile.location(), "--to", str(dest), repo=False)
        assert "Traceback" not in proc.stderr
    finally:
        hostile.close()
    assert not (tmp_path / "escape-s3").exists() and not (tmp_path / "work" / "escape-s3").exists()
    assert _files(dest) == _files(cli.repo)
    cli("restore", "latest", "--repo", str(dest), "--target", str(tmp_path / "out"), repo=False)
    assert (tmp_path / "out" / "src" / "a.txt").read_text() == "a" * 10_000


def _deep(root, levels: int) -> None:
    """`levels` folders named d below `root`, bottom.txt at the bottom; by descriptor (the path is
    longer than a shell would like)."""
    fd = os.open(root, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    bottom = os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(bottom, b"deep")
    os.close(bottom)
    os.close(fd)


def _bottom(root) -> tuple[int, bytes]:
    """(how many folders named d lead down from `root`, what the bottom file holds)."""
    fd, levels = os.open(root, os.O_RDONLY), 0
    while "d" in os.listdir(fd):
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
        levels += 1
    with open(os.open("bottom.txt", os.O_RDONLY, dir_fd=fd), "rb", closefd=True) as f:
        data = f.read()
    os.close(fd)
    return levels, data


def _flatten(root) -> None:
    """Remove a deep chain of d folders one level at a time: Python's rmtree (pytest's clean-up)
    recurses, and fails past ~1,000 levels."""
    while (root / "d").is_dir():
        (root / "d").rename(root / "up")
        for child in os.listdir(root / "up"):
            (root / "up" / child).rename(root / child)
        (root / "up").rmdir()


def test_a_folder_1200_levels_deep_backs_up_checks_lists_and_restores(cli, tmp_path):
    """The walks are loops over a stack: 520 levels used to end the whole backup in a
    RecursionError; a restore opens its folders one name at a time, in a loop too."""
    src = tmp_path / "src"
    src.mkdir()
    _deep(src, 1200)
    try:
        cli("init")
        assert cli.json("backup", str(src))["files_new"] == 1
        assert cli.json("check", "--read-data")["ok"]
        assert cli("ls", "latest").stdout.rstrip().endswith("/d/bottom.txt")
        cli("restore", "latest", "--target", str(tmp_path / "out"))
        assert _bottom(tmp_path / "out" / "src") == (1200, b"deep")
    finally:
        for root in (src, tmp_path / "out" / "src"):
            if root.exists():
                _flatten(root)


def test_a_planted_key_file_with_an_unbounded_cost_is_never_tried(cli):
    """Its Argon2id parameters would take terabytes or hours: unlock skips it and opens with the
    real key at once (it used to hang or crash)."""
    cli("init")
    for cost in ({"memory_kib": 1 << 40, "iterations": 3, "lanes": 4}, {"memory_kib": 65536, "iterations": 10**9}):
        doc = {"version": 1, "kdf": "argon2id", "lanes": 4, **cost, "salt": base64.b64encode(b"s" * 16).decode()}
        doc["data"] = base64.b64encode(b"x" * 60).decode()
        body = json.dumps(doc, indent=1, sort_keys=True).encode()
        (cli.repo / "keys" / plain_hash(body).hex()).write_bytes(body)  # named by its hash, as real ones
    started = time.monotonic()
    assert cli.json("snapshots") == []
    assert time.monotonic() - started < 20


def test_the_app_data_folder_is_this_users_only(cli, tmp_path, backbeat_home):
    """The state database lists every path backed up: another user of the computer read it at 0755."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "diary.txt").write_text("private")
    backbeat_home.mkdir(mode=0o755)
    cli("init")
    cli("backup", str(src))
    cli("limit", "512k", repo=False)
    assert backbeat_home.stat().st_mode & 0o777 == 0o700
    assert (backbeat_home / "logs").stat().st_mode & 0o777 == 0o700
    assert (backbeat_home / "settings.json").stat().st_mode & 0o777 == 0o600


def test_a_huge_junk_object_is_never_read_whole(cli, tmp_path):
    """A 2 GiB "snapshot" (sparse here) was read into memory whole: it is left unread, the real
    snapshots are listed, and check names it damaged."""
    import resource

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    cli("init")
    real = cli.json("backup", str(src))["snapshot_id"]
    with open(cli.repo / "snapshots" / ("ee" * 32), "wb") as f:
        f.truncate(2 << 30)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert [s["id"] for s in cli.json("snapshots")] == [real]
    report = cli.json("check", ok=(1,))
    assert any("too big for a snapshot record" in e for e in report["errors"]), report
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss - before < 512 << 10  # KiB: far from 2 GiB


def test_a_restore_keeps_setuid_only_with_its_owner_and_sets_no_attribute_outside_the_users_namespace(cli, tmp_path):
    """A set-user-ID file keeps the bit only when its owner is restored too (a restore as root);
    anyone else gets it as their own, without the bit. Only `user.` attributes (and POSIX ACLs) are
    set (a snapshot could carry `trusted.` ones, which a restore as root would set)."""
    src = tmp_path / "src"
    src.mkdir()
    tool = src / "tool"
    tool.write_bytes(b"#!/bin/sh\n")
    if os.geteuid() == 0:
        os.chown(tool, 65534, 65534)  # nobody's tool: as root, it comes back nobody's, with its bit
    os.chmod(tool, 0o4755)  # after chown, which clears the bit
    os.setxattr(tool, "user.origin", b"ok")
    try:
        os.setxattr(tool, "trusted.planted", b"x")  # root only: then the snapshot carries one
        planted = True
    except OSError:
        planted = False
    cli("init")
    cli("backup", str(src))
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    back = tmp_path / "out" / "src" / "tool"
    st = os.stat(back)
    if os.geteuid() == 0:
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o4755, 65534, 65534)
    else:
        assert (st.st_mode & 0o7777, st.st_uid) == (0o755, os.geteuid())
    assert os.getxattr(back, "user.origin") == b"ok"
    if planted:
        assert "trusted.planted" not in os.listxattr(back)


def test_a_server_that_hides_the_newest_snapshot_is_noticed_and_prune_stops(cli, tmp_path):
    """`latest` would silently be the older snapshot, and prune would delete the hidden one's data."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "old.txt").write_text("old")
    cli("init")
    cli("backup", str(src))
    (src / "new.bin").write_bytes(os.urandom(200_000))
    newest = cli.json("backup", str(src))["snapshot_id"]
    hidden = tmp_path / "hidden"
    (cli.repo / "snapshots" / newest).rename(hidden)
    packs = _files(cli.repo / "data")
    said = f"no longer holds the newest backup this computer made (snapshot {newest[:8]})"
    assert said in cli("snapshots").stderr
    assert said in cli("restore", "latest", "--target", str(tmp_path / "out")).stderr
    proc = cli("prune", ok=(1,))
    assert said in proc.stderr and "Clean-up waits" in proc.stderr
    assert _files(cli.repo / "data") == packs  # nothing deleted
    hidden.rename(cli.repo / "snapshots" / newest)
    assert said not in cli("snapshots").stderr


def _three_files_in_small_packs(cli, tmp_path):
    """(the source folder, the path of the biggest pack: a data pack, not the trees') after a
    backup of three 300 KB files in packs of 256 KB."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}.bin").write_bytes(os.urandom(300_000))
    cli("init", "--pack-size", "256K")
    cli("backup", str(src))
    packs = cli.repo / "data"
    return src, packs / max(_files(packs), key=lambda name: os.path.getsize(packs / name))


def test_a_pack_lost_at_the_destination_is_stored_again_by_the_next_backup(cli, tmp_path):
    """The index still names it: a backup used to deduplicate against it, exit 0, and make a
    snapshot pointing at data that is gone. Now the backup lists the destination, stores what the
    pack held again, and the snapshot restores, on this computer and on a new one."""
    src, lost = _three_files_in_small_packs(cli, tmp_path)
    lost.unlink()
    (src / "new.txt").write_text("new")
    again = cli("backup", str(src), "--json")
    assert "pack(s) this backup's index names are not at the destination" in again.stderr
    assert json.loads(again.stdout)["bytes_added"] > 250_000  # the lost pack's data, sent again
    for env in ({}, {"BACKBEAT_HOME": str(tmp_path / "new-machine")}):
        out = tmp_path / f"out{len(env)}"
        cli("restore", "latest", "--target", str(out), env=env)
        for i in range(3):
            assert (out / "src" / f"f{i}.bin").read_bytes() == (src / f"f{i}.bin").read_bytes()
    cli("check", "--repair")
    assert cli.json("check", "--read-data")["ok"]


def test_a_config_whose_mac_was_removed_is_refused(cli, tmp_path):
    """Without it a server forced fixed 64 KiB chunks and read file sizes off object sizes."""
    cli("init")
    config = json.loads((cli.repo / "config").read_text())
    del config["mac"]
    config["chunker"] = {"algorithm": "fastcdc2020", "min_size": 65536, "avg_size": 65536, "max_size": 65536}
    (cli.repo / "config").write_text(json.dumps(config))
    proc = cli("snapshots", ok=(1,))
    assert "carries no authentication code" in proc.stderr and "it was removed" in proc.stderr
    assert "carries no authentication code" in cli("backup", str(tmp_path), ok=(1,)).stderr
    fresh = {"BACKBEAT_HOME": str(tmp_path / "new-machine")}
    assert "--trust-config" in cli("snapshots", ok=(1,), env=fresh).stderr  # a new computer asks the user


def test_an_index_file_this_computer_deleted_is_refused_when_it_comes_back(cli, tmp_path):
    """A prune replaces index files; a destination put back to an older copy (or a server
    replaying old objects) brings them back, naming packs the prune removed. This computer
    remembers what it deleted and does not read them again; it says so."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "old.bin").write_bytes(os.urandom(300_000))
    cli("init", "--pack-size", "256K")
    cli("backup", str(src))
    (src / "old.bin").unlink()
    (src / "new.bin").write_bytes(os.urandom(300_000))
    cli("backup", str(src))
    before = {name: (cli.repo / "index" / name).read_bytes() for name in os.listdir(cli.repo / "index")}
    cli("forget", "--keep-last", "1", "--keep-deleted", "0", "--prune")
    replaced = set(before) - set(os.listdir(cli.repo / "index"))
    assert replaced
    for name in replaced:
        (cli.repo / "index" / name).write_bytes(before[name])
    said = "this computer deleted at"
    proc = cli("backup", str(src), "--json")
    assert said in proc.stderr and json.loads(proc.stdout)["bytes_added"] < 10_000
    assert said in cli("check").stderr
    out = tmp_path / "out"
    cli("restore", "latest", "--target", str(out))
    assert (out / "src" / "new.bin").read_bytes() == (src / "new.bin").read_bytes()


def test_a_pack_header_grafted_onto_other_bytes_indexes_nothing(cli, tmp_path):
    """A server makes up a pack from a real pack's header and junk of the same size (under the
    junk's own, valid name), loses the real pack and the index files: a computer rebuilding its
    index from the packs' headers counted the real pack's blobs as stored in the junk, and its
    backups deduplicated against them. A header now opens only in the pack it was written for."""
    src, real = _three_files_in_small_packs(cli, tmp_path)
    packs = cli.repo / "data"
    data = real.read_bytes()
    header = data[-4 - int.from_bytes(data[-4:], "little") :]
    junk = os.urandom(len(data) - len(header))
    name = plain_hash(junk).hex()
    (packs / name[:2]).mkdir(exist_ok=True)
    (packs / name[:2] / name).write_bytes(junk + header)
    real.unlink()
    for index_file in (cli.repo / "index").iterdir():
        index_file.unlink()

    fresh = {"BACKBEAT_HOME": str(tmp_path / "new-machine")}
    again = cli.json("backup", str(src), env=fresh)
    assert again["bytes_added"] > 250_000  # the lost pack's data, sent again: not found in the junk
    cli("restore", "latest", "--target", str(tmp_path / "out"), env=fresh)
    for i in range(3):
        assert (tmp_path / "out" / "src" / f"f{i}.bin").read_bytes() == (src / f"f{i}.bin").read_bytes()
