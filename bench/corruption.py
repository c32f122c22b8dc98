#!/usr/bin/env python3
"""Damage stored objects at random and see that Backbeat catches every case, then mends it.

    python bench/corruption.py [--trials 100] [--size-mb 24] [--seed 12]

A repository with two snapshots (a generated tree, then ~5% of it changed) is copied to a second
destination. Each trial starts from pristine copies and damages one object at the first: one
byte flipped, the file truncated, or deleted; in a pack's data, a pack's header, an index file,
a snapshot, a key file or `config`. Then, through the real CLI:
- `check` (`check --read-data` for packs) must fail and name the damaged object;
- for packs, a restore of the latest snapshot with the second destination out of reach must
  restore every other file byte for byte and name exactly the files `check` traced to the
  damage; with the second destination reachable it must restore everything;
- `check --repair` (with or without the second destination, alternately) must leave `check
  --read-data` clean where the repository can still be opened, and the next backup and its
  restore must be whole again.
Prints one line per trial and the totals (detected / injected, and so on).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.datasets import generate, mutate  # noqa: E402

PASSWORD = "bench"
KINDS = ("pack data", "pack header", "index", "snapshot", "key", "config")
DAMAGES = ("flip", "truncate", "delete")


@dataclass
class Trial:
    kind: str
    damage: str
    name: str
    detected: bool
    message: str
    #: packs only: restore without the other destination was exact for all but the reported files
    restore_ok: bool | None = None
    files_lost: int = 0
    #: packs only: restore with the other destination reachable was whole
    mirror_ok: bool | None = None
    #: after `check --repair`: `check --read-data` clean, and the next backup restores whole
    repaired: bool | None = None

    @property
    def ok(self) -> bool:
        return self.detected and self.restore_ok is not False and self.mirror_ok is not False and bool(self.repaired)


class Lab:
    """The pristine repository, its copy at a second destination, this computer's state, the source."""

    def __init__(self, work: Path, size_mb: int, seed: int) -> None:
        self.work = work
        self.src = generate(work / "src", size_mb, seed)
        self.env = dict(
            os.environ,
            BACKBEAT_PASSWORD=PASSWORD,
            BACKBEAT_HOME=str(work / "home"),
            PYTHONPATH=str(HERE.parent),
        )
        self.repo, self.mirror = work / "repo", work / "mirror"
        self.bb("init", "--pack-size", "512k")
        self.bb("backup", str(self.src))
        mutate(self.src, seed)
        self.bb("backup", str(self.src))
        self.latest = json.loads(self.bb("snapshots", "--json").stdout)[-1]["id"][:8]
        self.bb("copy", "--from", str(self.repo), "--to", str(self.mirror), repo=False)
        for part in ("repo", "mirror", "home"):
            shutil.copytree(work / part, work / f"pristine-{part}", symlinks=True)

    def bb(self, *args: str, repo: bool = True, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "engine", *args, *(["--repo", str(self.repo)] if repo else [])]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        if proc.returncode not in ok:
            raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
        return proc

    def reset(self) -> None:
        for part in ("repo", "mirror", "home", "out"):
            shutil.rmtree(self.work / part, ignore_errors=True)
            if part != "out":
                shutil.copytree(self.work / f"pristine-{part}", self.work / part, symlinks=True)

    def objects(self, kind: str) -> list[Path]:
        if kind in ("pack data", "pack header"):
            folder = "data"
        elif kind == "config":
            return [self.repo / "config"]
        else:
            folder = {"index": "index", "snapshot": "snapshots", "key": "keys"}[kind]
        return sorted(Path(d) / f for d, _, files in os.walk(self.repo / folder) for f in files)


def inject(path: Path, kind: str, damage: str, rnd: random.Random) -> None:
    os.chmod(path, 0o644)
    if damage == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(data[: rnd.randrange(len(data))]))
        return
    if kind == "pack header":
        at = rnd.randrange(max(0, len(data) - 256), len(data))
    elif kind == "pack data":
        at = rnd.randrange(0, max(1, len(data) - 256))
    else:
        at = rnd.randrange(len(data))
    data[at] ^= 1 << rnd.randrange(8)
    path.write_bytes(bytes(data))


def _identifier(lab: Lab, path: Path, damage: str) -> str:
    """What a message must contain to name the object: a pack's id prefix, or the object's name."""
    rel = path.relative_to(lab.repo).as_posix()
    if rel.startswith("data/"):
        return path.name[:16]
    if rel.startswith("snapshots/"):
        return path.name[:8]  # a snapshot gone altogether can only be named by the id this computer saw
    return "keys/" if rel.startswith("keys/") and damage == "delete" else rel


def _restore_matches(lab: Lab, failed: set[str]) -> tuple[bool, int]:
    """Every file restored equals the source, every file not restored was reported."""
    out = lab.work / "out" / "src"
    good, lost = True, 0
    for d, _, files in os.walk(lab.src):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), lab.src)
            there, here = out / rel, Path(d, f)
            if not os.path.lexists(there):
                lost += 1
                good &= "/" in failed or rel in failed or any(rel.startswith(f) for f in failed if f.endswith("/"))
            elif here.is_symlink():
                good &= there.is_symlink() and os.readlink(there) == os.readlink(here)
            else:
                good &= there.read_bytes() == here.read_bytes()
    return good, lost


def _restore(lab: Lab) -> tuple[set[str], subprocess.CompletedProcess]:
    shutil.rmtree(lab.work / "out", ignore_errors=True)
    proc = lab.bb("restore", "latest", "--target", str(lab.work / "out"), "--json", ok=(0, 1, 3))
    summary = json.loads(proc.stdout) if proc.returncode != 1 else {"failed": []}
    prefix = str(lab.work / "out" / "src") + "/"
    root = str(lab.work / "out") + "/"  # the snapshot's root folder: `check` calls it "/"
    return {"/" if f["path"] == root else f["path"].removeprefix(prefix) for f in summary["failed"]}, proc


def _pack_restores(lab: Lab, trial: Trial, damaged_files: list[str]) -> None:
    lab.mirror.rename(lab.work / "away")  # the second destination out of reach
    failed, _ = _restore(lab)
    (lab.work / "away").rename(lab.mirror)
    latest = {
        line.split(" (snapshots ")[0].removeprefix("src/")
        for line in damaged_files
        if lab.latest in line.split(" (snapshots ")[1]
    }
    exact, trial.files_lost = _restore_matches(lab, failed)
    trial.restore_ok = exact and failed == latest
    failed, proc = _restore(lab)
    trial.mirror_ok = proc.returncode == 0 and _restore_matches(lab, failed) == (True, 0)


def _repair(lab: Lab, trial: Trial, with_mirror: bool) -> None:
    if not with_mirror:
        lab.mirror.rename(lab.work / "away")
    try:
        repair = lab.bb("check", "--repair", ok=(0, 1))
    finally:
        if not with_mirror:
            (lab.work / "away").rename(lab.mirror)
    if trial.kind in ("key", "config"):  # nothing opens without them: the user copies them back (the hint says so)
        trial.repaired = "another destination" in repair.stderr
        return
    after = json.loads(lab.bb("check", "--read-data", "--json", ok=(0, 1)).stdout)
    lab.bb("backup", str(lab.src), ok=(0, 3))
    failed, proc = _restore(lab)
    trial.repaired = after["ok"] and proc.returncode == 0 and _restore_matches(lab, failed) == (True, 0)


def run_trials(lab: Lab, trials: int, seed: int, kinds=KINDS, damages=DAMAGES) -> list[Trial]:
    rnd = random.Random(seed)
    results = []
    for n in range(trials):
        lab.reset()
        kind, damage = kinds[n % len(kinds)], rnd.choice(damages)
        if kind == "pack header" and damage != "flip":
            damage = "flip"  # truncating or deleting a pack is the same whichever part is aimed at
        target = rnd.choice(lab.objects(kind))
        ident = _identifier(lab, target, damage)
        inject(target, kind, damage, rnd)
        pack = kind.startswith("pack")
        check = lab.bb("check", *(["--read-data"] if pack else []), "--json", ok=(0, 1))
        said = check.stdout + check.stderr
        trial = Trial(kind, damage, ident, ident in said, _message(check, ident))
        if pack and trial.detected:
            _pack_restores(lab, trial, json.loads(check.stdout)["damaged_files"])
        _repair(lab, trial, with_mirror=(n // len(kinds)) % 2 == 0)
        results.append(trial)
    return results


def _message(proc: subprocess.CompletedProcess, ident: str) -> str:
    """The line that names the object (or the error the command ended with)."""
    try:
        doc = json.loads(proc.stdout)
        lines = doc["errors"] + doc["warnings"]
    except (ValueError, KeyError):
        lines = proc.stderr.strip().splitlines()
    return next((line for line in lines if ident in line), lines[0] if lines else "(nothing said)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--size-mb", type=int, default=24)
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backbeat-corruption-"))
    try:
        lab = Lab(work, args.size_mb, args.seed)
        results = run_trials(lab, args.trials, args.seed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for t in results:
        extra = "" if t.restore_ok is None else f"; restore {t.restore_ok} ({t.files_lost} lost), mirror {t.mirror_ok}"
        print(f"{'ok  ' if t.ok else 'FAIL'} {t.kind:11} {t.damage:8} {t.name[:28]:28} -> {t.message[:90]}{extra}")
    print()
    for kind in KINDS:
        mine = [t for t in results if t.kind == kind]
        print(
            f"{kind:11}: detected {sum(t.detected for t in mine)}/{len(mine)}, "
            f"repaired {sum(bool(t.repaired) for t in mine)}/{len(mine)}"
        )
    packs = [t for t in results if t.restore_ok is not None]
    print(f"detected {sum(t.detected for t in results)} / injected {len(results)}")
    print(f"pack damage: restore exact but for the reported files {sum(t.restore_ok for t in packs)}/{len(packs)}, ")
    print(f"  whole from the second destination {sum(t.mirror_ok for t in packs)}/{len(packs)}")
    print(f"repaired (clean check, next backup restores whole) {sum(bool(t.repaired) for t in results)}/{len(results)}")


if __name__ == "__main__":
    main()
