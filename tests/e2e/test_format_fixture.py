"""A repository written by format v1 stays readable: an accidental format change fails here."""

import shutil
from pathlib import Path

from bench.datasets import assert_same_tree
from tests.fixtures.format_v1 import PASSWORD, make_tree

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "format-v1"


def test_committed_v1_repository_restores_exactly(cli, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo)
    env = {"BACKBEAT_PASSWORD": PASSWORD}
    assert cli.json("check", "--read-data", env=env)["ok"]
    cli("restore", "latest", "--target", str(tmp_path / "out"), env=env)
    expected = tmp_path / "expected" / "src"
    expected.mkdir(parents=True)
    make_tree(expected)
    assert_same_tree(expected, tmp_path / "out" / "src")
