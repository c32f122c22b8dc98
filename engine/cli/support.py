"""For support and set-up: about, support-bundle, login (S3 keys into the keychain)."""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import datetime

from engine.base.errors import EXIT_OK, BackbeatError, NoKeychain
from engine.base.units import format_bytes
from engine.cli.args import Subcommands
from engine.cli.passphrase import find_passphrase
from engine.service import BackupService
from engine.service.setup import keychain_available, save_s3_keys

__all__ = ["register", "COMMANDS"]


def register(sub: Subcommands, common: argparse.ArgumentParser) -> None:
    sub.add_parser("about", parents=[common], help="version, computer ID, folders: what support asks for")
    sb = sub.add_parser("support-bundle", parents=[common], help="write a .zip for support (no secrets in it)")
    sb.add_argument("--output", metavar="FILE", help="default: backbeat-support-DATE.zip in this folder")
    lg = sub.add_parser("login", parents=[common], help="save S3 keys for a LOCATION in the OS keychain")
    lg.add_argument("location", metavar="LOCATION")


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


COMMANDS = {"about": cmd_about, "support-bundle": cmd_support_bundle, "login": cmd_login}
