"""Other copies of a backup: copy between destinations, seed drives (export, verify, load)."""

from __future__ import annotations

import argparse
import json

from engine.base.errors import EXIT_ERROR, EXIT_OK, EXIT_WARNINGS, BackbeatError
from engine.base.units import format_bytes, format_duration
from engine.cli.args import RATE_HELP, Subcommands, finish, open_service, rate_arg
from engine.cli.passphrase import find_passphrase
from engine.service import BackupService

__all__ = ["register", "COMMANDS"]


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    cp = sub.add_parser("copy", parents=[common], help="bring one destination up to date with another")
    cp.add_argument("--from", dest="source", required=True, metavar="LOCATION")
    cp.add_argument("--to", dest="target", required=True, metavar="LOCATION")
    cp.add_argument("--limit", type=rate_arg, metavar="RATE", help=RATE_HELP)
    seed = sub.add_parser("seed", help="ship the first backup on a drive (export, verify, load)")
    seed_sub = seed.add_subparsers(dest="seed_command", required=True, metavar="ACTION")
    se = seed_sub.add_parser("export", parents=[common], help="back up into a seed drive for the --repo destination")
    se.add_argument("--drive", required=True, metavar="DIR", help="a folder on the drive")
    se.add_argument("paths", nargs="+", metavar="PATH")
    se.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="glob on names or paths")
    sv = seed_sub.add_parser("verify", parents=[common], help="read the whole drive against its manifest")
    sv.add_argument("--drive", required=True, metavar="DIR")
    sl = seed_sub.add_parser("load", parents=[common], help="copy a seed drive into the --repo destination")
    sl.add_argument("--drive", required=True, metavar="DIR")
    seed_sub.add_parser(
        "abandon",
        parents=[common],
        help="give up a seed drive that will not arrive (lost, damaged): its data is then uploaded over the line",
    )


def _copied(args, printer, report, what: str) -> int:
    """A copy's (or a seed load's) result: `what` gets "N objects (size)"."""
    printer.clear()
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        for line in report.errors:
            print(f"error: {line}")
        count = f"{report.objects_copied} objects ({format_bytes(report.bytes_copied)})"
        print(f"{what.format(count)}; {report.objects_present} were already there.")
    return EXIT_ERROR if report.errors else EXIT_OK


def cmd_copy(args, printer) -> int:
    service = BackupService(args.source, printer)
    service.set_limit(args.limit)
    report = service.copy_to(args.target)
    return _copied(args, printer, report, f"Copied {{}} from {args.source} to {args.target}")


def cmd_seed(args, printer) -> int:
    if args.seed_command == "export":
        service = open_service(args, printer, defer=True)
        s = service.seed.export(args.drive, args.paths, args.exclude)
        lines = [
            f"Seed written to {args.drive} in {format_duration(s.duration)}: {s.files_new + s.files_changed} files, "
            f"{format_bytes(s.bytes_added)} added. Until the drive is loaded, backups to {service.location} send "
            "only what is not on it. Check the drive with `backbeat seed verify`, then ship it.",
        ]
        return finish(args, printer, s.to_json(), lines, warnings=bool(s.warnings))
    if args.seed_command == "verify":
        service = BackupService(args.drive, printer)
        try:
            service.unlock(find_passphrase(args.password_file, service.repository_id(), prompt=False), defer=True)
        except BackbeatError:
            pass  # no passphrase (the provider), or no seed there (seed_verify says so): objects checked, not the MAC
        r = service.seed.verify(args.drive)
        lines = [f"missing: {n}" for n in r.missing] + [f"damaged: {n}" for n in r.corrupt]
        if r.authentic is False:
            lines.append("the manifest was altered: it does not match its authentication code")
        verdict = "the drive is intact" if r.ok else "the drive is NOT intact"
        auth = {True: "; manifest authentic", False: "", None: "; manifest authenticity not checked (no passphrase)"}
        lines.append(f"Read {r.objects} objects ({format_bytes(r.bytes_read)}): {verdict}{auth[r.authentic]}.")
        if not r.ok and r.authentic is not False:
            lines.append(
                "It can be loaded all the same: the load leaves out what is damaged or missing, and the "
                "backup's owner's computer sends that part over the line after its next `backbeat reconcile`."
            )
        printer.clear()
        print(json.dumps(r.to_json()) if args.json else "\n".join(lines))
        return EXIT_OK if r.ok else EXIT_ERROR
    if args.seed_command == "abandon":
        service = open_service(args, printer)
        left = service.seed.abandon()
        lines = [
            f"The seed drive for {service.location} is given up. The next backups upload what it held "
            f"and the destination lacks ({format_bytes(left)}) over your connection."
        ]
        return finish(args, printer, {"destination": service.location, "bytes_to_upload": left}, lines, False)
    report = BackupService(args.repo, printer).seed.load(args.drive)
    code = _copied(args, printer, report, f"Loaded {{}} into {args.repo}")
    if report.damaged and len(report.errors) == len(report.damaged):  # the load is finished all the same
        if not args.json:
            print(
                f"{len(report.damaged)} damaged object(s) on the drive were left out; the rest is loaded. "
                "Tell the backup's owner: when their computer checks what the drive delivered "
                "(`backbeat reconcile`, or Check Online Storage in the app), it uploads what was left out."
            )
        return EXIT_WARNINGS
    return code


COMMANDS = {"copy": cmd_copy, "seed": cmd_seed}
