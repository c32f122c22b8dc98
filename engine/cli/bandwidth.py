"""What is backed up where, and how fast: status, limit, pause, resume."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime

from engine.base.errors import EXIT_OK
from engine.base.progress import describe_upload
from engine.base.units import format_bytes, format_rate
from engine.cli.args import Subcommands, duration_arg, open_service
from engine.config.bandwidth import BandwidthPolicy, parse_policy
from engine.config.settings import load_settings, update_settings
from engine.service import BackupService, left_in_icloud
from engine.service.controls import pause, resume

__all__ = ["register", "COMMANDS"]


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    sub.add_parser("status", parents=[common], help="what each destination holds, and %% backed up")
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
    lim.add_argument(
        "--on-battery", choices=["pause", "continue"], help="pause uploads on battery power (and Low Power Mode) or not"
    )
    lim.add_argument(
        "--on-metered",
        choices=["pause", "continue"],
        help="pause uploads on a metered network (a phone's hotspot) or in Low Data Mode (default: pause)",
    )
    lim.add_argument(
        "--never-on-wifi",
        action="append",
        default=[],
        metavar="NAME",
        help="never upload on the Wi-Fi network NAME (its name as the Wi-Fi menu shows it; repeat for more)",
    )
    lim.add_argument("--allow-wifi", action="append", default=[], metavar="NAME", help="take NAME off that list again")
    pa = sub.add_parser("pause", parents=[common], help="pause uploads (every backup of this computer)")
    pa.add_argument(
        "--for", dest="duration", type=duration_arg, metavar="DURATION", help="30m, 2h, 1d (default: until resume)"
    )
    sub.add_parser("resume", parents=[common], help="resume paused uploads")


def _print_bandwidth(service: BackupService, as_json: bool) -> None:
    bw = service.bandwidth()
    if as_json:
        print(json.dumps(bw.to_json()))
        return
    print(f"Upload speed: {bw.policy}")
    print(f"In force now: {bw.reason}" + (f"; uploading at {format_rate(bw.upload_rate)}" if bw.upload_rate else ""))


def cmd_status(args, printer) -> int:
    service = open_service(args, printer)
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
    if icloud := left_in_icloud(latest):
        print(icloud)
    for d in dests:
        left = f", {format_bytes(d.selection_bytes - d.bytes_backed_up)} left" if d.checkpoint else ""
        print(
            f"{d.location}: {d.percent:.1f}% backed up ({format_bytes(d.bytes_backed_up)} of "
            f"{format_bytes(d.selection_bytes)}{left}); holds {d.packs} packs, {format_bytes(d.bytes_held)}"
        )
        if d.seed_exported is not None:
            when = datetime.fromtimestamp(d.seed_exported)
            print(
                f"  waiting for seed: the drive exported {when:%Y-%m-%d %H:%M} is on its way with all of the "
                f"folders as they were then ({format_bytes(d.seed_bytes)}); what it holds counts here once it is loaded"
            )
    upload = service.upload_progress()
    if upload is not None:
        print(f"Uploading: {describe_upload(upload)}")
    _print_bandwidth(service, as_json=False)
    return EXIT_OK


def cmd_limit(args, printer) -> int:
    settings = load_settings()
    policy = settings.bandwidth
    if args.kbit is not None:
        policy = BandwidthPolicy("fixed", args.kbit * 1000 / 8)
    elif args.policy is not None:
        policy = parse_policy(args.policy)
    battery = settings.pause_on_battery if args.on_battery is None else args.on_battery == "pause"
    metered = settings.pause_on_metered if args.on_metered is None else args.on_metered == "pause"
    listed = (*settings.never_upload_on_wifi, *args.never_on_wifi)
    wifi = tuple(dict.fromkeys(n for n in listed if n not in args.allow_wifi))
    chosen = {
        "bandwidth": policy,
        "pause_on_battery": battery,
        "pause_on_metered": metered,
        "never_upload_on_wifi": wifi,
    }
    if any(getattr(settings, name) != value for name, value in chosen.items()):
        update_settings(**chosen)
    _print_bandwidth(BackupService(args.repo, printer), args.json)
    if not args.json and battery:
        print("Uploads pause while the computer runs on battery or in Low Power Mode.")
    if not args.json and metered:
        print("Uploads pause on a metered network (a phone's hotspot) and in Low Data Mode.")
    if not args.json and wifi:
        print("Never uploads on the Wi-Fi " + ", ".join(f"“{n}”" for n in wifi) + ".")
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


COMMANDS = {"status": cmd_status, "limit": cmd_limit, "pause": cmd_pause, "resume": cmd_resume}
