"""Is the backup sound: check (and --repair), reconcile with what a destination should hold, stale locks."""

from __future__ import annotations

import argparse
import json

from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import EXIT_ERROR, EXIT_OK, EXIT_WARNINGS
from engine.base.units import format_bytes
from engine.cli.args import Subcommands, finish, open_service

__all__ = ["register", "COMMANDS"]


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    c = sub.add_parser("check", parents=[common], help="verify the repository")
    c.add_argument("--read-data", action="store_true", help="read and verify every pack")
    c.add_argument(
        "--repair",
        action="store_true",
        help="read everything, then mend what is damaged: good copies from other destinations, "
        "the index rebuilt from the packs, snapshots that lost data marked",
    )
    rc = sub.add_parser("reconcile", parents=[common], help="compare a destination with what it should hold")
    rc.add_argument("--drive", metavar="DIR", help="the seed drive, if attached: lost objects are taken from it")
    rc.add_argument("--full", action="store_true", help="read every pack (default: a sample)")
    ul = sub.add_parser("unlock", parents=[common], help="remove locks left by runs that stopped")
    ul.add_argument(
        "--all", action="store_true", help="remove every lock (only when no other computer is using the backup)"
    )


def _repaired(args, printer, report) -> int:
    printer.clear()
    if args.json:
        print(json.dumps(report.to_json()))
        return EXIT_ERROR if report.left else EXIT_OK
    if not report.problems_found:
        print("No problems found: nothing to repair.")
        return EXIT_OK
    for name in report.restored:
        print(f"restored from another destination: {name}")
    for line in report.snapshots_marked:
        print(f"marked: {line}")
    for line in report.snapshots_removed:
        print(f"removed: {line}")
    for line in report.left:
        print(f"not repaired: {line}")
    print(
        f"Repaired {report.problems_found} problem(s): {len(report.restored)} object(s) restored from another "
        f"destination, {report.packs_salvaged} damaged pack(s) salvaged, {report.index_files_replaced} index "
        f"file(s) replaced, {report.blobs_lost} piece(s) of data lost."
    )
    if report.blobs_lost:
        print("Files still on this computer are uploaded again by the next backup.")
    return EXIT_ERROR if report.left else EXIT_OK


def cmd_check(args, printer) -> int:
    if args.repair:
        return _repaired(args, printer, open_service(args, printer).repair())
    report = open_service(args, printer).check(args.read_data)
    printer.clear()
    if args.json:
        print(json.dumps(report.to_json()))
        return EXIT_OK if report.ok else EXIT_ERROR
    for line in report.errors:
        print(f"error: {line}")
    for line in report.warnings:
        print(f"warning: {line}")
    for line in report.damaged_files:
        print(f"damaged: {line}")
    for line in report.notes:
        print(f"note: {line}")
    what = f", {format_bytes(report.bytes_read)} read and verified" if args.read_data else ""
    verdict = "no problems found" if report.ok else f"{len(report.errors)} problem(s) found"
    print(f"Checked {report.snapshots} snapshots, {report.packs} packs{what}: {verdict}.")
    return EXIT_OK if report.ok else EXIT_ERROR


def cmd_reconcile(args, printer) -> int:
    r = open_service(args, printer).reconcile(args.drive, args.full)
    printer.clear()
    code = EXIT_WARNINGS if r.dropped else EXIT_OK  # packs lost there: as `check` would, not silently 0
    if args.json:
        print(json.dumps(r.to_json()))
        return code
    for n in r.missing:
        print(f"missing: {n}")
    for n in r.corrupt:
        print(f"damaged: {n}")
    for n in r.notes:
        print(f"note: {n}")
    print(
        f"{r.destination}: {r.objects_present} objects present, {len(r.missing)} missing, {len(r.corrupt)} damaged "
        f"({r.packs_verified} packs read); {format_bytes(r.bytes_to_upload)} still to upload; "
        f"{r.percent_backed_up:.1f}% backed up."
    )
    return code


def cmd_unlock(args, printer) -> int:
    removed = open_service(args, printer).remove_locks(everything=args.all)
    now = SYSTEM_CLOCK.wall_ns()
    lines = [f"removed the lock of the {lock.describe(now)}" for lock in removed] or ["No stale locks."]
    return finish(args, printer, {"removed": [lock.describe(now) for lock in removed]}, lines, warnings=False)


COMMANDS = {"check": cmd_check, "reconcile": cmd_reconcile, "unlock": cmd_unlock}
