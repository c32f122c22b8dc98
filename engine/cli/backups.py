"""Making and reading backups: init, backup, watch, snapshots, ls, find, restore."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from datetime import datetime

from engine.base.errors import EXIT_OK, BackbeatError, UsageError
from engine.base.events import Progress
from engine.base.units import format_bytes, format_duration
from engine.cli.args import RATE_HELP, Subcommands, duration_arg, finish, open_service, rate_arg, size_arg
from engine.cli.passphrase import new_passphrase
from engine.config.settings import load_settings
from engine.service import BackupService, Kind, WatchRun
from engine.service.setup import keychain_available, remember_passphrase

__all__ = ["register", "COMMANDS"]


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    i = sub.add_parser("init", parents=[common], help="create a repository")
    i.add_argument(
        "--pack-size",
        type=size_arg,
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
    b.add_argument("--limit", type=rate_arg, metavar="RATE", help=RATE_HELP)
    b.add_argument(
        "--checkpoint-every",
        type=duration_arg,
        metavar="DURATION",
        help="make what has arrived restorable this often during a long run (default 15m; 0 for never)",
    )
    b.add_argument(
        "--download-from-icloud",
        action=argparse.BooleanOptionalAction,
        help="download files that are only in iCloud to back them up, then free their space again "
        "(never on a metered network; default: the setting, off)",
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
    fd = sub.add_parser("find", parents=[common], help="find a file by name in every snapshot: each version once")
    fd.add_argument("name", metavar="NAME", help="words of the name (any case), or a pattern with * or ?")
    r = sub.add_parser("restore", parents=[common], help="restore a snapshot")
    r.add_argument("snapshot", metavar="SNAPSHOT|latest")
    r.add_argument("--target", required=True, metavar="DIR", help="folder to restore into")
    r.add_argument("--include", action="append", default=[], metavar="PATH", help="restore only PATH")
    r.add_argument("--overwrite", action="store_true", help="replace files that already exist")
    r.add_argument(
        "--numeric-owner",
        action="store_true",
        help="as root: give items their stored user and group numbers (default: by name where this computer knows it)",
    )
    w = sub.add_parser("watch", parents=[common], help="back up continuously: within seconds of each change")
    w.add_argument("paths", nargs="*", metavar="PATH", help="default: the folders chosen in the settings")
    w.add_argument("--exclude", action="append", default=[], metavar="PATTERN", help="glob on names or paths")


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


def cmd_backup(args, printer) -> int:
    service = open_service(args, printer, defer=True)
    service.set_limit(args.limit)
    s = service.backup(
        args.paths,
        args.exclude,
        checkpoint_every=args.checkpoint_every,
        order=args.order,
        download_from_icloud=args.download_from_icloud,
    )
    lines = [
        f"Snapshot {s.snapshot_id[:8]} saved in {format_duration(s.duration)}: {s.files_new} new, "
        f"{s.files_changed} changed, {s.files_unchanged} unchanged files; {format_bytes(s.bytes_read)} read, "
        f"{format_bytes(s.bytes_added)} added to the repository."
    ]
    if s.warnings:
        lines.append(f"{s.warnings} item(s) could not be backed up (listed above); they are retried next time.")
    return finish(args, printer, s.to_json(), lines, warnings=bool(s.warnings))


def cmd_snapshots(args, printer) -> int:
    snaps = open_service(args, printer).snapshots()
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
    rows = open_service(args, printer).list_files(args.snapshot, args.path)
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


def cmd_find(args, printer) -> int:
    versions, more = open_service(args, printer).find(args.name)
    if args.json:
        rows = [
            {"path": v.path, "size": v.size, "mtime_ns": v.mtime_ns, "snapshot": v.snapshot_id, "snapshots": v.backups}
            for v in versions
        ]
        print(json.dumps({"versions": rows, "more": more}))
        return EXIT_OK
    for v in versions:
        when = datetime.fromtimestamp(v.mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M")
        held = f"in {v.backups} snapshots, newest" if v.backups > 1 else "in snapshot"
        print(f"{v.size:>12} {when}  {v.path}  ({held} {v.snapshot_id[:8]})")
    if not versions:
        print(f"Nothing named like {args.name!r} in any snapshot.")
    elif more:
        print(f"… and more: the first {len(versions)} are shown; type more of the name.")
    return EXIT_OK


def cmd_restore(args, printer) -> int:
    s = open_service(args, printer).restore(
        args.snapshot, args.target, args.include, args.overwrite, args.numeric_owner
    )
    lines = [
        f"Restored {s.files} files, {s.dirs} folders, {s.links} links ({format_bytes(s.bytes)}) "
        f"in {format_duration(s.duration)} to {args.target}."
    ]
    if s.already_there:
        lines.append(
            f"{s.already_there} file(s) were already there, the same (size and date), and were left as they are."
        )
    if s.kept:
        lines.append(
            f"{len(s.kept)} item(s) were not restored because something different of that name is there "
            "(kept as it is); add --overwrite to replace them."
        )
    if s.failed:
        lines.append(f"{len(s.failed)} item(s) were not restored (listed above).")
    return finish(args, printer, s.to_json(), lines, warnings=bool(s.failed or s.kept))


def cmd_watch(args, printer) -> int:
    settings = load_settings()
    paths = args.paths or list(settings.folders)
    if not paths:
        raise UsageError("no folders to watch", hint="Name them: `backbeat watch ~/Documents ~/Pictures`.")
    service = open_service(args, printer)
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
        service.scheduler(paths, list(settings.excludes) + args.exclude, on_run, on_error).run(args.stop)
    except KeyboardInterrupt:
        pass
    printer.clear()
    print("Stopped watching; the repository is consistent.")
    return EXIT_OK


COMMANDS = {
    "init": cmd_init,
    "backup": cmd_backup,
    "snapshots": cmd_snapshots,
    "ls": cmd_ls,
    "find": cmd_find,
    "restore": cmd_restore,
    "watch": cmd_watch,
}
