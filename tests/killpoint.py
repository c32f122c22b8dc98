"""Run a `backbeat` command that kills itself (SIGKILL) right after its Nth change to the destination.

    python -m tests.killpoint N COUNT_FILE -- prune --repo LOCATION

Every `put`, `put_file` and `delete` of the local and S3 backends counts as one change; for a
`restore`, every file it puts in place under its name in the target. N = 0
never kills: the command runs whole and writes how many changes it made to COUNT_FILE, so a
test can spread its kills over the whole of a real run. A real kill -9 of a real process at an
exact moment, without any hook in the product.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path

import engine.jobs.restore
from engine.backends.local import LocalBackend
from engine.backends.s3 import S3Backend
from engine.cli.main import main


def _arm(kill_at: int, count_file: Path, restore: bool) -> None:
    done = [0]

    def counted(method):
        @functools.wraps(method)
        def wrapper(*args, **kw):
            result = method(*args, **kw)
            done[0] += 1
            count_file.write_text(str(done[0]))
            if kill_at and done[0] >= kill_at:  # ">=": threads may count past it together
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        return wrapper

    if restore:
        engine.jobs.restore.put_in_place = counted(engine.jobs.restore.put_in_place)
        return
    for cls in (LocalBackend, S3Backend):
        for name in ("put", "put_file", "delete"):
            setattr(cls, name, counted(getattr(cls, name)))


if __name__ == "__main__":
    kill_at, count_file, sep, *argv = sys.argv[1:]
    assert sep == "--"
    _arm(int(kill_at), Path(count_file), restore=argv[0] == "restore")
    sys.exit(main(argv))
