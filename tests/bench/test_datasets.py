"""The project's own dataset tools: the generator is deterministic and realistic, the mutator changes
what it says, and the comparer notices every kind of difference a restore could get wrong."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bench.datasets import assert_same_tree, compare, differences, generate, mutate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("gen") / "home", 8, 3)


def _copy(tree: Path, dest: Path) -> Path:
    shutil.copytree(tree, dest, symlinks=True)
    os.utime(dest, ns=(os.stat(tree).st_atime_ns, os.stat(tree).st_mtime_ns))
    return dest


def test_the_same_seed_gives_the_same_tree_and_another_seed_another(tree, tmp_path):
    assert differences(tree, generate(tmp_path / "again", 8, 3)) == []
    assert differences(tree, generate(tmp_path / "other", 8, 4)) != []


def test_the_tree_has_a_home_folders_mix(tree):
    files = [p for p in tree.rglob("*") if p.is_file() and not p.is_symlink()]
    total = sum(p.stat().st_size for p in files)
    assert 8 << 20 <= total <= 9 << 20
    tops = {p.relative_to(tree).parts[0] for p in files}
    assert {"Pictures", "Music", "Movies", "Documents", "Library", "Projects", "Downloads", "Desktop"} <= tops
    assert len(files) > 150  # small files dominate the count, as in a real home
    modes = {stat.S_IMODE(p.stat().st_mode) for p in files}
    assert {0o644, 0o600, 0o755, 0o444} <= modes
    links = {p.name: os.readlink(p) for p in tree.rglob("*") if p.is_symlink()}
    assert links["dangling link"] == "/nonexistent/target" and links["current"] == "src"
    names = os.listdir(os.fsencode(tree / "Desktop"))
    assert any(len(n) == 250 for n in names) and "café ünïcode ✓.txt".encode() in names
    assert any(not _utf8(n) for n in names)
    assert max(p.stat().st_mtime for p in files) < 1_780_400_000  # times before the fixed day, not now
    if hasattr(os, "getxattr"):
        assert any(os.listxattr(p) for p in (tree / "Downloads").iterdir())


def _utf8(name: bytes) -> bool:
    try:
        name.decode()
    except UnicodeDecodeError:
        return False
    return True


def test_mutate_changes_about_five_percent_and_is_deterministic(tree, tmp_path):
    one, two = _copy(tree, tmp_path / "one"), _copy(tree, tmp_path / "two")
    mutate(one, 1)
    mutate(two, 1)
    assert differences(one, two) == []
    found = differences(tree, one, limit=10_000)
    assert sum(line.startswith("content differs") for line in found) >= 4
    assert sum(line.startswith("only in B") and line.endswith(".emlx") for line in found) == 40
    assert any(line.startswith("only in A") for line in found)  # deletions and the renamed album
    assert any(line.startswith("mode differs") for line in found)
    mutate(one, 1)  # a second round with the same seed adds its own files
    assert len(differences(tree, one, limit=10_000)) > len(found)


def test_compare_notices_each_kind_of_difference(tree, tmp_path):
    copy = _copy(tree, tmp_path / "copy")
    assert_same_tree(tree, copy)
    doc = next((copy / "Documents").rglob("*.txt"))
    rel = doc.relative_to(copy)
    changes = {
        "content": lambda: doc.write_bytes(doc.read_bytes()[:-1] + b"!"),
        "mode": lambda: os.chmod(doc, 0o640),
        "mtime_ns": lambda: os.utime(doc, ns=(0, os.stat(doc).st_mtime_ns + 1)),
        "xattrs": lambda: os.setxattr(doc, "user.tag", b"red"),
    }
    for field, change in changes.items():
        if field == "xattrs" and not hasattr(os, "setxattr"):
            continue
        fresh = _copy(tree, tmp_path / field)
        doc = fresh / rel
        change()
        found = differences(tree, fresh)
        assert any(line.startswith(f"{field} differs: {rel}") for line in found), (field, found)
    link = copy / "Desktop" / "dangling link"
    link.unlink()
    os.symlink("/elsewhere", link)
    assert any("content differs: Desktop/dangling link" in line for line in differences(tree, copy))
    (copy / "Desktop" / "extra").write_text("x")
    assert compare(tree, copy).startswith("DIFFERENT")
    with pytest.raises(AssertionError, match="only in B: Desktop/extra"):
        assert_same_tree(tree, copy)


def test_the_tools_run_from_a_shell(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bench.datasets", *args], cwd=ROOT, capture_output=True, text=True)

    assert run("generate", str(tmp_path / "a"), "--size-mb", "2", "--seed", "5").returncode == 0
    shutil.copytree(tmp_path / "a", tmp_path / "b", symlinks=True)
    os.utime(tmp_path / "b", ns=(0, os.stat(tmp_path / "a").st_mtime_ns))
    same = run("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert same.returncode == 0 and same.stdout.strip() == "OK: no difference", same.stderr
    assert run("mutate", str(tmp_path / "b"), "--seed", "2").returncode == 0
    changed = run("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert changed.returncode == 1 and "DIFFERENT" in changed.stdout
