"""`backbeat`: argparse subcommands -> BackupService calls, exit codes from engine.base.errors.

Exit codes: 0 success, 1 error, 3 finished with per-file warnings (some files were skipped).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import stat
import sys
from dataclasses import asdict, replace
from datetime import datetime

from engine import PRODUCT, __version__
from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import EXIT_ERROR, EXIT_OK, EXIT_WARNINGS, BackbeatError, NoKeychain, UsageError
from engine.base.events import Progress
from engine.base.logs import log, setup_logging
from engine.base.memory import tune_allocator
from engine.base.progress import describe_upload
from engine.base.units import format_bytes, format_duration, format_rate, parse_duration, parse_rate, parse_size
from engine.cli.interrupt import EXIT_INTERRUPTED, Interrupt
from engine.cli.passphrase import find_passphrase, new_passphrase
from engine.cli.progress import ProgressPrinter
from engine.config.bandwidth import BandwidthPolicy, parse_policy
from engine.config.settings import load_settings, update_settings
from engine.service import BackupService, Kind, PruneReport, WatchRun, describe_decision
from engine.service.controls import pause, resume
from engine.service.setup import keychain_available, remember_passphrase, save_s3_keys

__all__ = ["main", "build_parser"]

_EPILOG = """exit codes: 0 success, 1 error, 3 finished with warnings (some files were skipped).
The passphrase comes from BACKBEAT_PASSWORD, --password-file, the OS keychain or a prompt, in that order."""

_RATE_HELP = "upload at most RATE per second (512k, 1.5M; a bare number is KiB/s, as in rclone)"


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
    i = sub.add_parser("init", parents=[common], help="create a repository")
    i.add_argument(
        "--pack-size",
        type=_size,
        metavar="SIZE",
        help="target size of the files data is stored in (default 8M; smaller loses less to an interrupted "
        "upload on a slow line, bigger means fewer files)",
    )
    i.add_argument(
        "--save-passphrase",
        action="store_true",
        help="keep the passphrase in the OS keychain without asking (on a terminal you are asked)",
    )
    b = sub.add_parser("backup", parents=[common], help="back up files and folders")
    b.add_argument("paths", nargs="+", metavar="PATH")
    b.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="glob on names or paths")
    b.add_argument("--limit", type=_rate, metavar="RATE", help=_RATE_HELP)
    b.add_argument(
        "--checkpoint-every",
        type=_duration,
        metavar="DURATION",
        help="make what has arrived restorable this often during a long run (default 15m; 0 for never)",
    )
    b.add_argument(
        "--order",
        choices=["smart", "path"],
        help="smart (default): recent documents and small files first, disk images last; path: in path order",
    )
    sub.add_parser("snapshots", parents=[common], help="list snapshots")
    ls = sub.add_parser("ls", parents=[common], help="list the files in a snapshot")
    ls.add_argument("snapshot", metavar="SNAPSHOT", help="snapshot id (a prefix) or 'latest'")
    ls.add_argument("path", nargs="?", metavar="PATH")
    r = sub.add_parser("restore", parents=[common], help="restore a snapshot")
    r.add_argument("snapshot", metavar="SNAPSHOT|latest")
    r.add_argument("--target", required=True, metavar="DIR", help="folder to restore into")
    r.add_argument("--include", action="append", default=[], metavar="PATH", help="restore only PATH")
    r.add_argument("--overwrite", action="store_true", help="replace files that already exist")
    c = sub.add_parser("check", parents=[common], help="verify the repository")
    c.add_argument("--read-data", action="store_true", help="read and verify every pack")
    c.add_argument(
        "--repair",
        action="store_true",
        help="read everything, then mend what is damaged: good copies from other destinations, "
        "the index rebuilt from the packs, snapshots that lost data marked",
    )
    cp = sub.add_parser("copy", parents=[common], help="bring one destination up to date with another")
    cp.add_argument("--from", dest="source", required=True, metavar="LOCATION")
    cp.add_argument("--to", dest="target", required=True, metavar="LOCATION")
    cp.add_argument("--limit", type=_rate, metavar="RATE", help=_RATE_HELP)
    sub.add_parser("status", parents=[common], help="what each destination holds, and %% backed up")
    sub.add_parser("about", parents=[common], help="version, computer ID, folders: what support asks for")
    sb = sub.add_parser("support-bundle", parents=[common], help="write a .zip for support (no secrets in it)")
    sb.add_argument("--output", metavar="FILE", help="default: backbeat-support-DATE.zip in this folder")
    w = sub.add_parser("watch", parents=[common], help="back up continuously: within seconds of each change")
    w.add_argument("paths", nargs="*", metavar="PATH", help="default: the folders chosen in the settings")
    w.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="glob on names or paths")
    _add_bandwidth_commands(sub, common)
    _add_seed_commands(sub, common)
    lg = sub.add_parser("login", parents=[common], help="save S3 keys for a LOCATION in the OS keychain")
    lg.add_argument("location", metavar="LOCATION")
    return p


def _add_bandwidth_commands(sub, common: argparse.ArgumentParser) -> None:
    lim = sub.add_parser(
        "limit",
        parents=[common],
        help="show or set how fast uploads may go",
        description="POLICY: off (unlimited), auto (keep my internet usable: the default), a rate such as 512k "
        "or 1.5M a second (binary k/M; a bare number such as 512 is KiB/s, as in rclone), or a weekly schedule "
        "in rclone's --bwlimit "
        'syntax, e.g. "Mon-Fri 08:00,512k 18:00,256k 23:00,off". Applies to backups already running.',
    )
    lim.add_argument("policy", nargs="?", metavar="POLICY")
    lim.add_argument("--kbit", type=float, metavar="N", help="a fixed limit of N kilobits per second")
    lim.add_argument("--on-battery", choices=["pause", "continue"], help="pause uploads on battery power or not")
    pa = sub.add_parser("pause", parents=[common], help="pause uploads (every backup of this computer)")
    pa.add_argument(
        "--for", dest="duration", type=_duration, metavar="DURATION", help="30m, 2h, 1d (default: until resume)"
    )
    sub.add_parser("resume", parents=[common], help="resume paused uploads")


def _add_seed_commands(sub, common: argparse.ArgumentParser) -> None:
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
    ul = sub.add_parser("unlock", parents=[common], help="remove locks left by runs that stopped")
    ul.add_argument(
        "--all", action="store_true", help="remove every lock (only when no other computer is using the backup)"
    )
    rc = sub.add_parser("reconcile", parents=[common], help="compare a destination with what it should hold")
    rc.add_argument("--drive", metavar="DIR", help="the seed drive, if attached: lost objects are taken from it")
    rc.add_argument("--full", action="store_true", help="read every pack (default: a sample)")


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _rate(text: str) -> int:
    try:
        return parse_rate(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _open(args, printer, defer: bool = False) -> BackupService:
    service = BackupService(args.repo, printer)
    passphrase = find_passphrase(args.password_file, service.repository_id())
    service.unlock(passphrase, defer=defer, trust_config=args.trust_config)
    return service


def _finish(args, printer, doc: dict, lines: list[str], warnings: bool) -> int:
    """Print a job's result (one JSON object with --json) and pick its exit code."""
    printer.clear()
    print(json.dumps(doc) if args.json else "\n".join(lines))
    return EXIT_WARNINGS if warnings else EXIT_OK


def cmd_init(args, printer) -> int:
    service = BackupService(args.repo, printer)
    passphrase = new_passphrase(args.password_file)
    repo_id = service.init(passphrase, pack_size=args.pack_size)
    stored = _may_keep(args) and remember_passphrase(repo_id, passphrase)
    if args.json:
        print(json.dumps({"repository": service.location, "id": repo_id, "keychain": stored}))
    else:
        print(f"Created repository {repo_id[:8]} at {service.location}")
        if stored:
            print("The passphrase is saved in your keychain.")
        print("Keep the passphrase safe: without it, nobody (not even Backbeat) can restore your files.")
    return EXIT_OK


def _may_keep(args) -> bool:
    """The passphrase goes to the keychain when asked (--save-passphrase) or, on a terminal, when
    the user says yes: never behind their back."""
    if not keychain_available():
        return False
    if args.save_passphrase:
        return True
    if not sys.stdin.isatty():
        return False
    answer = input("Save the passphrase in your keychain, so backups run without asking for it? [Y/n] ")
    return answer.strip().lower() in ("", "y", "yes")


def cmd_backup(args, printer) -> int:
    service = _open(args, printer, defer=True)
    service.set_limit(args.limit)
    s = service.backup(args.paths, args.exclude, checkpoint_every=args.checkpoint_every, order=args.order)
    lines = [
        f"Snapshot {s.snapshot_id[:8]} saved in {format_duration(s.duration)}: {s.files_new} new, "
        f"{s.files_changed} changed, {s.files_unchanged} unchanged files; {format_bytes(s.bytes_read)} read, "
        f"{format_bytes(s.bytes_added)} added to the repository."
    ]
    if s.warnings:
        lines.append(f"{s.warnings} item(s) could not be backed up (listed above); they are retried next time.")
    return _finish(args, printer, s.to_json(), lines, warnings=bool(s.warnings))


def cmd_snapshots(args, printer) -> int:
    snaps = _open(args, printer).snapshots()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": s.id,
                        "time": s.time.isoformat(),
                        "host": s.host,
                        "paths": s.paths,
                        "base": s.base,
                        "checkpoint": s.checkpoint,
                        "summary": s.summary,
                    }
                    for s in snaps
                ]
            )
        )
        return EXIT_OK
    if not snaps:
        print("No snapshots yet.")
    for s in snaps:
        what = (
            f"checkpoint: {s.summary.get('files', 0)} files so far"
            if s.checkpoint
            else f"read {format_bytes(s.summary.get('bytes_read', 0))}"
        )
        print(f"{s.short_id}  {s.time:%Y-%m-%d %H:%M:%S}  {s.host}  {', '.join(s.paths)}  ({what})")
    return EXIT_OK


def cmd_ls(args, printer) -> int:
    rows = _open(args, printer).list_files(args.snapshot, args.path)
    out = []
    for rel, e in rows:
        kind = {Kind.DIR: "d", Kind.FILE: "-", Kind.SYMLINK: "l"}[e.kind]
        if args.json:
            out.append({"path": rel, "type": kind, "size": e.size, "mode": e.mode, "mtime_ns": e.mtime_ns})
            continue
        when = datetime.fromtimestamp(e.mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M")
        link = f" -> {os.fsdecode(e.target)}" if e.kind == Kind.SYMLINK else ""
        print(f"{kind}{stat.filemode(e.mode)[1:]} {e.size:>12} {when}  {rel}{link}")
    if args.json:
        print(json.dumps(out))
    return EXIT_OK


def cmd_restore(args, printer) -> int:
    s = _open(args, printer).restore(args.snapshot, args.target, args.include, args.overwrite)
    lines = [
        f"Restored {s.files} files, {s.dirs} folders, {s.links} links ({format_bytes(s.bytes)}) "
        f"in {format_duration(s.duration)} to {args.target}."
    ]
    if s.already_there:
        lines.append(
            f"{s.already_there} file(s) were already there, the same (size and date), and were left as they are."
        )
    if s.failed:
        lines.append(f"{len(s.failed)} item(s) were not restored (listed above).")
    return _finish(args, printer, s.to_json(), lines, warnings=bool(s.failed))


def cmd_check(args, printer) -> int:
    if args.repair:
        return _repaired(args, printer, _open(args, printer).repair())
    report = _open(args, printer).check(args.read_data)
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


def cmd_copy(args, printer) -> int:
    service = BackupService(args.source, printer)
    service.set_limit(args.limit)
    report = service.copy_to(args.target)
    return _copied(args, printer, report, f"Copied {{}} from {args.source} to {args.target}")


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


def cmd_status(args, printer) -> int:
    service = _open(args, printer)
    latest, dests = service.status()
    if args.json:
        doc = {"snapshot": latest.id if latest else None, "destinations": [d.to_json() for d in dests]}
        upload = service.upload_progress()
        doc["upload"] = asdict(upload) if upload else None
        print(json.dumps(doc | {"bandwidth": service.bandwidth().to_json()}))
        return EXIT_OK
    if latest is None:
        print("No backup yet: nothing is backed up.")
    elif latest.checkpoint:
        print(
            f"Backup interrupted: checkpoint {latest.short_id} ({latest.time:%Y-%m-%d %H:%M}) makes "
            f"{latest.summary.get('files', 0)} of {latest.summary.get('selection_files', '?')} files restorable; "
            "the next backup goes on from there."
        )
    else:
        print(f"Latest snapshot: {latest.short_id} ({latest.time:%Y-%m-%d %H:%M})")
    for d in dests:
        left = f", {format_bytes(d.selection_bytes - d.bytes_backed_up)} left" if d.checkpoint else ""
        print(
            f"{d.location}: {d.percent:.1f}% backed up ({format_bytes(d.bytes_backed_up)} of "
            f"{format_bytes(d.selection_bytes)}{left}); holds {d.packs} packs, {format_bytes(d.bytes_held)}"
        )
        if d.seed_exported is not None:
            print(f"  waiting for seed: a drive exported {datetime.fromtimestamp(d.seed_exported):%Y-%m-%d %H:%M}")
    upload = service.upload_progress()
    if upload is not None:
        print(f"Uploading: {describe_upload(upload)}")
    _print_bandwidth(service, as_json=False)
    return EXIT_OK


def _print_bandwidth(service: BackupService, as_json: bool) -> None:
    bw = service.bandwidth()
    if as_json:
        print(json.dumps(bw.to_json()))
        return
    print(f"Upload speed: {bw.policy}")
    print(f"In force now: {bw.reason}" + (f"; uploading at {format_rate(bw.upload_rate)}" if bw.upload_rate else ""))


def cmd_limit(args, printer) -> int:
    settings = load_settings()
    policy = settings.bandwidth
    if args.kbit is not None:
        policy = BandwidthPolicy("fixed", args.kbit * 1000 / 8)
    elif args.policy is not None:
        policy = parse_policy(args.policy)
    battery = settings.pause_on_battery if args.on_battery is None else args.on_battery == "pause"
    if (policy, battery) != (settings.bandwidth, settings.pause_on_battery):
        update_settings(bandwidth=policy, pause_on_battery=battery)
    _print_bandwidth(BackupService(args.repo, printer), args.json)
    if not args.json and battery:
        print("Uploads pause while the computer runs on battery.")
    return EXIT_OK


def cmd_pause(args, printer) -> int:
    p = pause(args.duration)
    until = f" until {datetime.fromtimestamp(p.until):%Y-%m-%d %H:%M}" if p.until else " until `backbeat resume`"
    print(json.dumps({"paused": True, "until": p.until}) if args.json else f"Uploads paused{until}.")
    return EXIT_OK


def cmd_resume(args, printer) -> int:
    was = resume()
    print(json.dumps({"resumed": was}) if args.json else ("Uploads resumed." if was else "Uploads were not paused."))
    return EXIT_OK


def cmd_watch(args, printer) -> int:
    settings = load_settings()
    paths = args.paths or list(settings.folders)
    if not paths:
        raise UsageError("no folders to watch", hint="Name them: `backbeat watch ~/Documents ~/Pictures`.")
    service = _open(args, printer)
    where = f"{len(paths)} folder{'s' if len(paths) > 1 else ''}"

    def on_run(r: WatchRun) -> None:
        s = r.summary
        printer.clear()
        what = f"{r.changed} changed path(s)" if r.reason == "changes" else f"full scan ({r.reason})"
        line = (
            f"{datetime.now():%H:%M:%S}  snapshot {s.snapshot_id[:8]}: {what}; {s.files_new + s.files_changed} "
            f"file(s) read, {format_bytes(s.bytes_added)} added"
        )
        print(line + (f"; replaces {r.replaced[:8]} (one snapshot per interval)" if r.replaced else ""), flush=True)
        printer(Progress(f"watching {where}, protected at {datetime.now():%H:%M:%S}", 0, 0, 0, 0))

    def on_error(e: BackbeatError) -> None:
        printer.clear()
        print(f"error: {e}" + (f"\nhint: {e.hint}" if e.hint else "") + "\n(trying again shortly)", file=sys.stderr)

    try:  # Ctrl-C also sets args.stop: a KeyboardInterrupt that lands in a finalizer is lost
        service.watch(paths, list(settings.excludes) + args.exclude, args.stop, on_run, on_error)
    except KeyboardInterrupt:
        pass
    printer.clear()
    print("Stopped watching; the repository is consistent.")
    return EXIT_OK


def cmd_seed(args, printer) -> int:
    if args.seed_command == "export":
        service = _open(args, printer, defer=True)
        s = service.seed.export(args.drive, args.paths, args.exclude)
        lines = [
            f"Seed written to {args.drive} in {format_duration(s.duration)}: {s.files_new + s.files_changed} files, "
            f"{format_bytes(s.bytes_added)} added. Until the drive is loaded, backups to {service.location} send "
            "only what is not on it. Check the drive with `backbeat seed verify`, then ship it.",
        ]
        return _finish(args, printer, s.to_json(), lines, warnings=bool(s.warnings))
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
        printer.clear()
        print(json.dumps(r.to_json()) if args.json else "\n".join(lines))
        return EXIT_OK if r.ok else EXIT_ERROR
    report = BackupService(args.repo, printer).seed.load(args.drive)
    return _copied(args, printer, report, f"Loaded {{}} into {args.repo}")


def cmd_reconcile(args, printer) -> int:
    r = _open(args, printer).reconcile(args.drive, args.full)
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


def cmd_forget(args, printer) -> int:
    service = _open(args, printer)
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


def cmd_prune(args, printer) -> int:
    report = _open(args, printer).prune(dry_run=args.dry_run)
    lines = [f"warning: {w}" for w in report.warnings] + [_pruned(report)]
    return _finish(args, printer, report.to_json(), lines, warnings=bool(report.warnings))


def cmd_unlock(args, printer) -> int:
    removed = _open(args, printer).remove_locks(everything=args.all)
    now = SYSTEM_CLOCK.wall_ns()
    lines = [f"removed the lock of the {lock.describe(now)}" for lock in removed] or ["No stale locks."]
    return _finish(args, printer, {"removed": [lock.describe(now) for lock in removed]}, lines, warnings=False)


def cmd_about(args, printer) -> int:
    about = BackupService(args.repo, printer).about()
    print(json.dumps(about) if args.json else "\n".join(f"{k}: {v}" for k, v in about.items()))
    return EXIT_OK


def cmd_support_bundle(args, printer) -> int:
    service = BackupService(args.repo, printer)
    try:
        service.unlock(find_passphrase(args.password_file, service.repository_id()), defer=True)
    except BackbeatError:
        pass  # a bundle is most needed when the repository will not open: it says why inside
    output = args.output or f"backbeat-support-{datetime.now():%Y%m%d-%H%M%S}.zip"
    r = service.support_bundle(output)
    print(json.dumps(r.to_json()) if args.json else f"Wrote {r.path} ({format_bytes(r.bytes)}): {', '.join(r.files)}.")
    return EXIT_OK


def cmd_login(args, printer) -> int:
    if not keychain_available():
        raise NoKeychain()
    access = input("Access key id: ").strip()
    secret = getpass.getpass("Secret access key: ")
    save_s3_keys(args.location, access, secret)
    print("Saved in your keychain.")
    return EXIT_OK


_COMMANDS = {
    "init": cmd_init,
    "backup": cmd_backup,
    "snapshots": cmd_snapshots,
    "ls": cmd_ls,
    "restore": cmd_restore,
    "check": cmd_check,
    "copy": cmd_copy,
    "status": cmd_status,
    "limit": cmd_limit,
    "pause": cmd_pause,
    "resume": cmd_resume,
    "watch": cmd_watch,
    "seed": cmd_seed,
    "reconcile": cmd_reconcile,
    "forget": cmd_forget,
    "prune": cmd_prune,
    "unlock": cmd_unlock,
    "about": cmd_about,
    "support-bundle": cmd_support_bundle,
    "login": cmd_login,
}


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
