"""Shared fixtures: an isolated BACKBEAT_HOME, generated datasets, and a CLI runner."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.datasets import generate
from engine.config.bandwidth import BandwidthPolicy
from engine.config.priority import PrioritySettings
from engine.config.retention import RetentionPolicy
from engine.config.settings import CheckpointSettings, PruneSettings, Settings, WatchSettings
from tests.s3server import S3Server, SeaweedServer

PASSWORD = "correct horse battery staple"


def eventually(condition, timeout: float) -> bool:
    """Whether `condition()` holds within `timeout` seconds (looked at every 50 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


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
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))  # a login item the app writes lands here
    for key, value in S3Server.env().items():
        monkeypatch.setenv(key, value)
    return home


def _serving(server):
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="session")
def rclone_server(tmp_path_factory):
    """One real S3 server (rclone serve s3) on loopback for the session."""
    yield from _serving(S3Server(tmp_path_factory.mktemp("s3")))


@pytest.fixture(scope="session")
def s3_server(rclone_server):
    """The S3 server most tests use: rclone's, which the fault tests kill and start again."""
    return rclone_server


@pytest.fixture(scope="session")
def seaweed_server(tmp_path_factory):
    """A second real S3 server, SeaweedFS's `weed mini`, started on first use."""
    yield from _serving(SeaweedServer(tmp_path_factory.mktemp("seaweed")))


@pytest.fixture(params=["rclone", "seaweed"])
def each_s3_server(request):
    """Each real S3 server in turn, for a module whose tests run against both: it sets
    `s3_server` to this (and so `s3_repo` too)."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def s3_repo(s3_server, request) -> str:
    """A LOCATION in a fresh bucket of the session's S3 server."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())  # a test's [param] is no bucket name
    bucket = s3_server.bucket(("b-" + name[:50]).rstrip("-"))
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


def everything_chosen(destination: str = "s3:https://s3.example.org/bucket/al") -> Settings:
    """Settings with every choice away from its default: a setter that resets any of them shows."""
    return Settings(
        bandwidth=BandwidthPolicy("schedule", schedule="Mon-Fri 08:00,512k 23:00,off"),
        pause_on_battery=True,
        folders=("/home/al/Documents", "/home/al/Pictures"),
        excludes=("*.tmp", "node_modules"),
        watch=WatchSettings(quiet=7.0, rescan_every=3600.0),
        destination=destination,
        checkpoints=CheckpointSettings(every=300.0),
        priority=PrioritySettings(order="path"),
        retention=RetentionPolicy(last=3, daily=9, deleted_days=45),
        prune=PruneSettings(every_days=3.0),
        notify=False,
        pause_on_metered=False,
        never_upload_on_wifi=("Café Lumière", "iPhone de Al"),
        download_from_icloud=True,
    )
