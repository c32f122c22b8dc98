"""Repositories written by format v1 and v2 stay readable: an accidental format change fails here."""

import json
import shutil
from pathlib import Path

from bench.datasets import assert_same_tree
from tests.fixtures.formats import PASSWORDS, make_tree

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_committed_v1_repository_restores_exactly(cli, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "format-v1", repo)
    env = {"BACKBEAT_PASSWORD": PASSWORDS[1]}
    config = (repo / "config").read_bytes()
    # made before configs carried a MAC: on a computer that never used it, only when the user says so
    assert "carries no authentication code" in cli("check", env=env, ok=(1,)).stderr
    assert cli.json("check", "--read-data", "--trust-config", env=env)["ok"]
    cli("restore", "latest", "--target", str(tmp_path / "out"), env=env)  # trusted from now on
    expected = tmp_path / "expected" / "src"
    expected.mkdir(parents=True)
    make_tree(expected)
    assert_same_tree(expected, tmp_path / "out" / "src")
    assert (repo / "config").read_bytes() == config  # readers write nothing
    cli("backup", str(expected), env=env)  # the first writer gives it its MAC
    assert "mac" in json.loads((repo / "config").read_text())
    assert cli.json("check", "--read-data", env=env | {"BACKBEAT_HOME": str(tmp_path / "other")})["ok"]


def test_committed_v2_repository_restores_exactly_and_takes_new_backups(cli, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "format-v2", repo)
    env = {"BACKBEAT_PASSWORD": PASSWORDS[2]}
    assert cli.json("check", "--read-data", env=env)["ok"]  # its config carries its MAC: no question asked
    cli("restore", "latest", "--target", str(tmp_path / "out"), env=env)
    expected = tmp_path / "expected" / "src"
    expected.mkdir(parents=True)
    make_tree(expected)
    assert_same_tree(expected, tmp_path / "out" / "src")
    (expected / "docs" / "notes.txt").write_text("changed\n" * 500)
    again = cli.json("backup", str(expected), env=env)
    assert again["bytes_added"] < 20_000  # the 700 KB photo dedups against the fixture's blobs
    assert cli.json("check", "--read-data", env=env)["ok"]
