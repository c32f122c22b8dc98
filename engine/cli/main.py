"""`backbeat`: argparse subcommands -> BackupService calls, exit codes from engine.base.errors.

Exit codes: 0 success, 1 error, 3 finished with per-file warnings (some files were skipped).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from engine import PRODUCT, __version__
from engine.base.errors import EXIT_OK, BackbeatError
from engine.base.logs import log, setup_logging
from engine.base.memory import tune_allocator
from engine.cli import backups, bandwidth, cleanup, copies, health, support
from engine.cli.interrupt import EXIT_INTERRUPTED, Interrupt
from engine.cli.progress import ProgressPrinter

__all__ = ["main", "build_parser"]

_EPILOG = """exit codes: 0 success, 1 error, 3 finished with warnings (some files were skipped).
The passphrase comes from BACKBEAT_PASSWORD, --password-file, the OS keychain or a prompt, in that order."""

#: the command groups, in the order `backbeat --help` lists them
_GROUPS = (backups, health, copies, bandwidth, cleanup, support)
_COMMANDS = {name: run for group in _GROUPS for name, run in group.COMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--repo", metavar="LOCATION", help="where the backup is (default: the configured one, else the embedded one)"
    )
    common.add_argument("--password-file", metavar="FILE", help="read the passphrase from FILE")
    common.add_argument(
        "--trust-config",
        action="store_true",
        help="open an older repository whose config has no authentication code (it then gets one)",
    )
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress, no notes")
    common.add_argument("-v", "--verbose", action="store_true", help="also show the log's lines (INFO)")
    common.add_argument("--debug", action="store_true", help="show every log line (DEBUG)")
    p = argparse.ArgumentParser(
        prog="backbeat",
        description=f"{PRODUCT} {__version__}: encrypted, deduplicated backups.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"{PRODUCT} {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _GROUPS:
        group.register(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tune_allocator()
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.CRITICAL + 1
    setup_logging(console_level=level)  # the printer already shows warnings: the console log is opt-in
    printer = ProgressPrinter(quiet=args.quiet or args.json, live=None if not args.quiet else False)
    interrupt = Interrupt(printer.silence)
    interrupt.install()
    args.stop = interrupt.stop
    try:
        return _COMMANDS[args.command](args, printer)
    except BackbeatError as e:
        printer.clear()
        log.error("%s failed: %s%s", args.command, e, f" — {e.hint}" if e.hint else "")
        print(f"error: {e}", file=sys.stderr)
        if e.hint:
            print(f"hint: {e.hint}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # `backbeat ls ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        interrupt.said()
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
