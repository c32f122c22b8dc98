"""Damaged data is detected and reported per file, never restored silently; the rest restores."""

import os
from pathlib import Path

from engine.backends.local import LocalBackend
from engine.jobs.backup import start_scan
from engine.jobs.restore import walk_snapshot
from engine.jobs.session import open_session
from engine.repo.repository import ChunkerParams, Repository
from engine.repo.snapshot import load_snapshots
from tests.conftest import PASSWORD
from tests.jobs import run_backup, run_restore


def _pack_holding(repo: Path, needle_size: int) -> Path:
    """The data pack closest in size to `needle_size` (a pack holding mostly one known file)."""
    packs = [Path(d) / f for d, _, files in os.walk(repo / "data") for f in files]
    return min(packs, key=lambda p: abs(p.stat().st_size - needle_size))


def test_flipped_byte_is_reported_per_file_and_other_files_restore(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(6 << 20))
    for i in range(20):
        (src / f"small-{i}.txt").write_text(f"small file {i}\n" * 100)
    cli("init")
    cli("backup", str(src))
    assert cli.json("check", "--read-data")["ok"]

    pack = _pack_holding(cli.repo, 6 << 20)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside big.bin (small files come first in the pack)
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(data))

    report = cli.json("check", "--read-data", ok=(1,))
    assert not report["ok"]
    assert any("does not match its name" in e for e in report["errors"])
    assert any("src/big.bin" in f for f in report["damaged_files"]), report

    proc = cli("restore", "latest", "--target", str(tmp_path / "out"), ok=(3,))
    assert "big.bin" in proc.stderr and "not restored" in proc.stderr
    assert not (tmp_path / "out" / "src" / "big.bin").exists()
    for i in range(20):
        assert (tmp_path / "out" / "src" / f"small-{i}.txt").read_text() == f"small file {i}\n" * 100

    # --overwrite replaces a file only with whole, sound content: the damaged one leaves it as it was
    mine = tmp_path / "mine" / "src"
    mine.mkdir(parents=True)
    (mine / "big.bin").write_text("mine")
    (mine / "small-0.txt").write_text("mine")
    proc = cli("restore", "latest", "--target", str(mine.parent), "--overwrite", ok=(3,))
    assert "big.bin" in proc.stderr and "not restored" in proc.stderr
    assert (mine / "big.bin").read_text() == "mine"
    assert (mine / "small-0.txt").read_text() == "small file 0\n" * 100


def test_missing_pack_is_reported(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(3 << 20))
    cli("init")
    cli("backup", str(src))
    _pack_holding(cli.repo, 3 << 20).unlink()
    report = cli.json("check", ok=(1,))
    assert any("missing" in e for e in report["errors"])
    assert any("src/a.bin" in f for f in report["damaged_files"])


def test_file_whose_blob_is_missing_from_the_index_is_reported_and_the_rest_restores(tmp_path, backbeat_home):
    """One blob of a two-blob file unknown to the index: only that file fails, nothing half-written.
    The file is one byte longer than the largest chunk, so it has two blobs whatever the chunker's key."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "two-chunks.bin").write_bytes(os.urandom(ChunkerParams().max_size + 1))
    (src / "fine.txt").write_text("fine")
    backend = LocalBackend(tmp_path / "repo")
    Repository.create(backend, PASSWORD)
    session = open_session(backend, PASSWORD)
    run_backup(session, start_scan([str(src)]))
    latest = load_snapshots(backend, session.repo.key)[-1]
    entry = next(e for rel, e in walk_snapshot(session.reader, latest.tree_id) if rel == b"src/two-chunks.bin")
    assert len(entry.ids) >= 2
    session.index.discard([entry.ids[-1]])  # its first blob is still known
    summary = run_restore(session, latest, str(tmp_path / "out"))
    assert [f.path.endswith("two-chunks.bin") for f in summary.failed] == [True]
    assert not (tmp_path / "out" / "src" / "two-chunks.bin").exists()
    assert (tmp_path / "out" / "src" / "fine.txt").read_text() == "fine"
