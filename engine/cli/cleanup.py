"""Versions kept and space reclaimed: forget, prune."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

from engine.base.errors import EXIT_OK, UsageError
from engine.base.units import format_bytes, format_duration
from engine.cli.args import Subcommands, finish, open_service
from engine.config.settings import load_settings
from engine.service import PruneReport, describe_decision

__all__ = ["register", "COMMANDS"]


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    fg = sub.add_parser("forget", parents=[common], help="remove the snapshots the retention policy does not keep")
    fg.add_argument("--dry-run", action="store_true", help="only list what would be kept and removed, and why")
    for rule, what in (
        ("last", "the newest N backups"),
        ("hourly", "one an hour for the last N hours with a backup"),
        ("daily", "one a day for the last N days with a backup"),
        ("weekly", "one a week for the last N weeks with a backup"),
        ("monthly", "one a month for the last N months with a backup"),
        ("yearly", "one a year for the last N years with a backup"),
    ):
        fg.add_argument(f"--keep-{rule}", type=int, metavar="N", help=f"keep {what}")
    fg.add_argument("--keep-deleted", type=int, metavar="DAYS", help="keep deleted files restorable for DAYS")
    fg.add_argument("--prune", action="store_true", help="then remove the data nothing needs any more")
    pr = sub.add_parser("prune", parents=[common], help="remove data no snapshot needs any more; reclaim space")
    pr.add_argument("--dry-run", action="store_true", help="only say what would be removed and repacked")


def _pruned(r: PruneReport) -> str:
    """A prune's result in one paragraph."""
    would = "would be " if r.dry_run else ""
    said = (
        f"{r.packs_deleted} unused pack(s) {would}removed ({format_bytes(r.bytes_deleted)}), "
        f"{r.packs_repacked} repacked ({format_bytes(r.bytes_repacked)} {would}written again); "
        f"stored {format_bytes(r.bytes_before)} -> {format_bytes(r.bytes_after)} in {format_duration(r.duration)}."
    )
    if r.packs_postponed:
        said += (
            f" {r.packs_postponed} pack(s) holding {format_bytes(r.bytes_postponed)} of unused data wait for the "
            "next clean-up (this one's upload budget is spent)."
        )
    return said


def cmd_forget(args, printer) -> int:
    service = open_service(args, printer)
    policy = load_settings().retention
    overrides = {
        rule: getattr(args, f"keep_{rule}")
        for rule in ("last", "hourly", "daily", "weekly", "monthly", "yearly")
        if getattr(args, f"keep_{rule}") is not None
    }
    if args.keep_deleted is not None:
        overrides["deleted_days"] = args.keep_deleted
    try:
        policy = replace(policy, **overrides)
    except ValueError as e:
        raise UsageError(str(e)) from None
    report = service.forget(policy, dry_run=args.dry_run)
    pruned = service.prune() if args.prune and not args.dry_run else None
    if args.json:
        print(json.dumps(report.to_json() | ({"prune": pruned.to_json()} if pruned else {})))
        return EXIT_OK
    print(report.policy)
    for d in sorted(report.decisions, key=lambda d: d.snapshot.time_ns, reverse=True):
        print(describe_decision(d))
    verb = "would be removed" if args.dry_run else "removed"
    print(f"{len(report.kept)} snapshot(s) kept, {len(report.dropped)} {verb}.", end=" ")
    print(_pruned(pruned) if pruned else "Their data stays until `backbeat prune` removes what nothing needs.")
    return EXIT_OK


def cmd_prune(args, printer) -> int:
    report = open_service(args, printer).prune(dry_run=args.dry_run)
    lines = [f"warning: {w}" for w in report.warnings] + [_pruned(report)]
    return finish(args, printer, report.to_json(), lines, warnings=bool(report.warnings))


COMMANDS = {"forget": cmd_forget, "prune": cmd_prune}
