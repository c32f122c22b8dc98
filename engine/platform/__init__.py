"""What Backbeat asks of the operating system beyond POSIX: one interface (`Platform`), one
implementation per system (`linux`, `darwin`), and `current()` to reach this system's.

Imports only `engine.base`. Nothing else in the engine tests which system it runs on: a need that
differs between macOS and Linux is a method here, so the logic above is the same on both and is
tested on Linux through this interface, with real files. `use` stands in another implementation
for a test (for instance one that reports iCloud placeholders, which Linux has not).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from engine.platform.interface import Exclusion, Platform

__all__ = ["Platform", "Exclusion", "current", "use"]

_current: Platform | None = None


def current() -> Platform:
    global _current
    if _current is None:
        if sys.platform == "darwin":
            from engine.platform.darwin import DarwinPlatform

            _current = DarwinPlatform()
        else:
            from engine.platform.linux import LinuxPlatform

            _current = LinuxPlatform()
    return _current


@contextlib.contextmanager
def use(platform: Platform) -> Iterator[Platform]:
    """`platform` answers for this system until the block ends (tests only)."""
    global _current
    before, _current = current(), platform
    try:
        yield platform
    finally:
        _current = before
