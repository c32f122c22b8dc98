"""Shared fixtures: an isolated BACKBEAT_HOME, generated datasets, and a CLI runner."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.datasets import generate
from tests.s3server import S3Server

PASSWORD = "correct horse battery staple"


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A real file system that fills up: a tmpfs of `size` at `path` (needs root; skips the test
    otherwise), unmounted afterwards."""
    path.mkdir(parents=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    if os.geteuid() != 0 or subprocess.run(mount).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)])


@pytest.fixture(autouse=True)
def backbeat_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("BACKBEAT_HOME", str(home))
    monkeypatch.setenv("BACKBEAT_PASSWORD", PASSWORD)
    for key, value in S3Server.env().items():
        monkeypatch.setenv(key, value)
    return home


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """One real S3 server (rclone serve s3) on loopback for the session."""
    server = S3Server(tmp_path_factory.mktemp("s3"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def s3_repo(s3_server, request) -> str:
    """A LOCATION in a fresh bucket of the session's S3 server."""
    bucket = s3_server.bucket(("b-" + request.node.name.lower().replace("_", "-")[:50]).rstrip("-"))
    return s3_server.location(bucket)


@pytest.fixture(scope="session")
def dataset64(tmp_path_factory) -> Path:
    """The 64 MiB home tree (bench.datasets), generated once per session; copy it before changing it."""
    return generate(tmp_path_factory.mktemp("ds") / "src", 64, 1)


@pytest.fixture
def dataset_copy(dataset64, tmp_path) -> Path:
    dst = tmp_path / "src"
    shutil.copytree(dataset64, dst, symlinks=True)  # copies modes and mtimes (ns) of files and folders
    return dst


class Cli:
    """Runs `python -m engine` in a subprocess, as a user would."""

    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.repo = repo
        self.env = env

    def __call__(self, *args: str, repo: bool = True, ok: tuple[int, ...] | None = (0,), prefix=(), env=None, **kw):
        cmd = [*prefix, sys.executable, "-m", "engine", *args]
        if repo:
            cmd += ["--repo", str(self.repo)]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, errors="surrogateescape", env={**self.env, **(env or {})}, **kw
        )
        if ok is not None and proc.returncode not in ok:
            raise AssertionError(f"{cmd} exited {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
        return proc

    def json(self, *args: str, **kw):
        return json.loads(self(*args, "--json", **kw).stdout)


@pytest.fixture
def cli(tmp_path, backbeat_home) -> Cli:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return Cli(tmp_path / "repo", env)
