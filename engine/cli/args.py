"""What every command shares: argument types, opening the service, printing a result."""

from __future__ import annotations

import argparse
import json

from engine.base.errors import EXIT_OK, EXIT_WARNINGS
from engine.base.units import parse_duration, parse_rate, parse_size
from engine.cli.passphrase import find_passphrase
from engine.service import BackupService

__all__ = ["Subcommands", "RATE_HELP", "size_arg", "rate_arg", "duration_arg", "open_service", "finish"]

#: what a command group's `register` adds its commands to (argparse names it only privately)
Subcommands = argparse._SubParsersAction

RATE_HELP = "upload at most RATE per second (512k, 1.5M; a bare number is KiB/s, as in rclone)"


def size_arg(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def rate_arg(text: str) -> int:
    try:
        return parse_rate(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def open_service(args, printer, defer: bool = False) -> BackupService:
    service = BackupService(args.repo, printer)
    passphrase = find_passphrase(args.password_file, service.repository_id())
    service.unlock(passphrase, defer=defer, trust_config=args.trust_config)
    return service


def finish(args, printer, doc: dict, lines: list[str], warnings: bool) -> int:
    """Print a job's result (one JSON object with --json) and pick its exit code."""
    printer.clear()
    print(json.dumps(doc) if args.json else "\n".join(lines))
    return EXIT_WARNINGS if warnings else EXIT_OK
