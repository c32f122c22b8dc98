"""LOCATION strings (what `--repo` takes) -> a backend. Today: a folder path."""

from __future__ import annotations

from engine.backends.base import Backend
from engine.backends.local import LocalBackend

__all__ = ["open_location"]


def open_location(location: str) -> Backend:
    return LocalBackend(location)
