"""The `backbeat` command line: argparse in front of engine.service, nothing more."""

import os
import signal
import sys

#: what a command interrupted by Ctrl-C says last (engine.cli.interrupt)
INTERRUPTED = "interrupted: the repository is consistent; run the command again to resume."
EXIT_INTERRUPTED = 130


def run() -> int:
    """The `backbeat` command (and `python -m engine`). Until the command has started (its imports
    take a few hundred milliseconds, more on a busy computer), Ctrl-C ends it at once in the same
    words, nothing having been touched yet; `engine.cli.interrupt` then takes over."""

    def stop_now(signum: int, frame: object) -> None:
        print(f"\nstopping…\n{INTERRUPTED}", file=sys.stderr, flush=True)
        os._exit(EXIT_INTERRUPTED)

    signal.signal(signal.SIGINT, stop_now)
    from engine.cli.main import main

    return main()
