"""A folder of tens of thousands of files is stored as parts: one changed file re-sends one part,
prune keeps every part a snapshot needs, and a damaged part costs only the files it lists (one
test: each backup of the folder takes seconds); a backup of a big folder holds no record per file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.datasets import assert_same_tree
from engine.backends.local import LocalBackend
from engine.jobs.session import open_session
from engine.repo.blob import BlobType
from engine.repo.snapshot import load_snapshots
from engine.repo.tree import decode_tree, split_parts
from engine.repo.walk import folder_entries
from tests.conftest import PASSWORD
from tests.e2e.test_prune import keep_last

pytestmark = pytest.mark.slow

FILES = 33_000  # a part holds at most 32,768 entries: at least two parts, whatever the key


def _big_source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    big = src / "big"
    big.mkdir(parents=True)
    for i in range(FILES):
        (big / f"file-{i:06d}.txt").write_bytes(b"%d" % i)
    (src / "next to it.txt").write_text("a neighbour")
    return src


def _parts_of_big(repo: Path) -> tuple[list[bytes], dict[bytes, list[bytes]]]:
    """The big folder's parts in the latest snapshot, and each part's file names."""
    session = open_session(LocalBackend(repo), PASSWORD)
    try:
        snap = load_snapshots(session.repo.backend, session.repo.key)[-1]
        store = session.reader
        src = next(e for e in folder_entries(store, snap.tree_id) if e.name == b"src")
        big = next(e for e in folder_entries(store, src.subtree) if e.name == b"big")
        parts = list(split_parts(store.get(BlobType.TREE, big.subtree)) or ())
        names = {p: [e.name for e in decode_tree(store.get(BlobType.TREE, p))] for p in parts}
        return parts, names
    finally:
        session.close()


def test_a_big_folder_in_parts_re_sends_one_part_survives_prune_and_a_damaged_part_costs_only_its_files(cli, tmp_path):
    src = _big_source(tmp_path)
    cli("init")
    cli("backup", str(src))
    first, _ = _parts_of_big(cli.repo)
    assert len(first) >= 2

    (src / "big" / "file-012345.txt").write_bytes(b"changed, and longer than before")
    cli("backup", str(src))
    second, names = _parts_of_big(cli.repo)
    assert len(set(second) - set(first)) == 1  # the other parts are the first backup's, not sent again

    cli("forget", *keep_last(1))
    cli("prune")
    assert cli.json("check", "--read-data")["ok"]  # every part the kept snapshot needs is still there
    cli("restore", "latest", "--target", str(tmp_path / "out"))
    assert_same_tree(src, tmp_path / "out" / "src")

    victim = second[1]  # one byte flipped in one part of the listing
    session = open_session(LocalBackend(cli.repo), PASSWORD)
    where = session.index.get(victim)
    session.close()
    pack = cli.repo / "data" / where.pack_id.hex()[:2] / where.pack_id.hex()
    data = bytearray(pack.read_bytes())
    data[where.offset + where.length // 2] ^= 0xFF
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(data))

    report = cli.json("check", "--read-data", ok=(1,))
    assert any("folder src/big:" in e for e in report["errors"]), report["errors"]
    proc = cli("restore", "latest", "--target", str(tmp_path / "again"), ok=(3,))
    assert "src/big/" in proc.stderr and "listing (or part of it) is damaged" in proc.stderr
    restored = set(os.listdir(tmp_path / "again" / "src" / "big"))
    assert restored == {f"file-{i:06d}.txt" for i in range(FILES)} - {n.decode() for n in names[victim]}
    assert (tmp_path / "again" / "src" / "next to it.txt").read_text() == "a neighbour"


#: run in a fresh interpreter, so that tracemalloc sees this backup and nothing of the test worker's
_MEASURE = """
import json, sys, tracemalloc
from engine.backends.local import LocalBackend
from engine.jobs.backup import start_scan
from tests.jobs import run_backup
from engine.repo.repository import Repository
from engine.jobs.session import open_session
src, repo, password = sys.argv[1:]
Repository.create(LocalBackend(repo), password)
session = open_session(LocalBackend(repo), password)
first = run_backup(session, start_scan([src]))
tracemalloc.start()
held = tracemalloc.get_traced_memory()[0]
again = run_backup(session, start_scan([src]))
peak = tracemalloc.get_traced_memory()[1] - held
print(json.dumps([first.files_new, again.files_unchanged, again.files_new, again.bytes_read, peak]))
"""


def test_a_backup_holds_no_record_per_file(tmp_path):
    """The scan is spooled to disk and the files cache read a page at a time beside it, so a
    no-change backup of 20,000 files holds a few pages, not a record per file (in memory, the
    scan's nodes, the whole files cache and each file's record cost ~600 bytes a file: 12 MB).
    In folders of 200: a folder's tree part being built is held whole (up to 32,768 entries, its
    size set by the key), a bound of its own, not what this measures."""
    src = tmp_path / "src"
    hour_ago = os.stat(tmp_path).st_mtime - 3600  # files changed in the last seconds are read again
    for i in range(20_000):
        path = src / f"folder-{i // 200:03d}" / f"file-{i:06d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%d" % i)
        os.utime(path, (hour_ago, hour_ago))
    args = [sys.executable, "-c", _MEASURE, str(src), str(tmp_path / "repo"), PASSWORD]
    out = subprocess.run(args, cwd=Path(__file__).parents[2], capture_output=True, text=True, check=True).stdout
    first_new, unchanged, new, read, peak = json.loads(out)
    assert (first_new, unchanged, new, read) == (20_000, 20_000, 0, 0)
    assert peak < 4 << 20, f"a no-change backup of 20,000 files held {peak >> 10} KiB at its peak"
