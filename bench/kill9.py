#!/usr/bin/env python3
"""kill -9 at random moments of backups (to a folder and to a real S3 server), copies, seed
exports, reconciles and restores; after each, the repository checks clean and the job, run
again, completes whole.

Each trial runs the real CLI through tests/killpoint.py, which SIGKILLs the process right after
its Nth change to the destination (N drawn at random over the whole of an uninterrupted run of
the same job, counted first). After every kill:
- backup: `check` passes, the next backup completes, and its restore equals the source byte for
  byte (bench.datasets compare: content, modes, times, links, xattrs); half the backups go to the
  folder, half to S3, and
  each trial first adds 4 MiB of new data and changes ~5% of the tree, so every run has work;
- copy (folder -> a fresh S3 bucket): `check` of the half-copied target passes, the copy run
  again completes, `check --read-data` there passes and its restore equals the source;
- seed export (to a fresh drive folder): the export run again completes and `seed verify` reads
  the whole drive clean;
- reconcile (a seed loaded into a fresh bucket with two packs lost; with and without the drive
  attached): reconcile run again completes, a backup then completes and restores equal to the
  source, and `check --read-data` names nothing but the seed snapshot's lost data.
- restore (from the folder, killed after its Nth file got its name): every file that has its
  name is whole (content and mtime), and the same restore run again into the same folder exits
  0 and equals the source.
Prints survivors / trials per job. (Prune's kill moments are in tests/e2e/test_prune.py.)

    python bench/kill9.py [--backups 50] [--others 5] [--restores 10] [--size-mb 32] [--seed 9]
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
from bench.datasets import compare, generate, mutate  # noqa: E402
from tests.s3server import S3Server  # noqa: E402

PASSWORD = "bench"


@dataclass
class Job:
    work: Path
    env: dict

    def bb(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "engine", *args], env=self.env, capture_output=True, text=True)
        if proc.returncode not in ok:
            raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
        return proc

    def killed(self, kill_at: int, *args: str) -> int:
        """Run `args` to be killed after change number `kill_at` (0: never); returns the changes made."""
        count = self.work / "changes"
        count.write_text("0")
        cmd = [sys.executable, "-m", "tests.killpoint", str(kill_at), str(count), "--", *args]
        subprocess.run(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return int(count.read_text() or 0)

    def checks_clean(self, location: str, read_data: bool = False, unborn_ok: bool = False) -> bool:
        """`unborn_ok`: a copy killed before its key files landed leaves no repository yet (and says so)."""
        args = ["check", "--repo", location, "--json", *(["--read-data"] if read_data else [])]
        proc = self.bb(*args, ok=(0, 1))
        if unborn_ok and "not a Backbeat repository" in proc.stderr:
            return True
        return json.loads(proc.stdout)["ok"]

    def restores(self, location: str, src: Path) -> bool:
        out = self.work / "out"
        shutil.rmtree(out, ignore_errors=True)
        self.bb("restore", "latest", "--repo", location, "--target", str(out))
        return compare(src, out / src.name).startswith("OK")


def backup_trials(
    job: Job, location: str, src: Path, trials: int, rnd: random.Random, server: S3Server | None = None
) -> int:
    survived = 0
    for _ in range(trials):
        (src / "new.bin").write_bytes(rnd.randbytes(4 << 20))  # replaced each time: the tree stays its size
        mutate(src, rnd.randrange(1 << 30))
        probe = _probe(job, location, ["backup", "--repo", location, "-q", str(src)], server)
        job.killed(rnd.randint(1, max(1, probe)), "backup", "--repo", location, "-q", str(src))
        ok = job.checks_clean(location)
        job.bb("backup", "--repo", location, "-q", str(src), ok=(0, 3))
        survived += ok and job.restores(location, src)
    return survived


def _probe(job: Job, location: str, args: list[str], server: S3Server | None) -> int:
    """How many changes the job would make now: counted by running it whole against a copy of the
    destination (made by `backbeat copy`) with a copy of this computer's state."""
    home = job.work / "probe-home"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(job.env["BACKBEAT_HOME"], home)
    probe = Job(job.work, {**job.env, "BACKBEAT_HOME": str(home)})
    if server is not None:
        scratch = server.location(server.bucket(f"probe-{rnd_name()}"))
    else:
        scratch = str(job.work / "probe")
        shutil.rmtree(scratch, ignore_errors=True)
    probe.bb("copy", "--from", location, "--to", scratch)
    return probe.killed(0, *[scratch if a == location else a for a in args])


def rnd_name() -> str:
    return os.urandom(4).hex()


def copy_trials(job: Job, server: S3Server, source: str, src: Path, trials: int, rnd: random.Random) -> int:
    whole = server.location(server.bucket("probe-copy"))
    total = job.killed(0, "copy", "--from", source, "--to", whole)
    survived = 0
    for n in range(trials):
        target = server.location(server.bucket(f"copy-{n}"))
        job.killed(rnd.randint(1, total), "copy", "--from", source, "--to", target)
        ok = job.checks_clean(target, unborn_ok=True)
        job.bb("copy", "--from", source, "--to", target)
        survived += ok and job.checks_clean(target, read_data=True) and job.restores(target, src)
    return survived


def seed_trials(job: Job, location: str, src: Path, trials: int, rnd: random.Random) -> int:
    def export(drive: Path, kill_at: int) -> int:
        return job.killed(kill_at, "seed", "export", "--repo", location, "--drive", str(drive), "-q", str(src))

    total = export(job.work / "probe-drive", 0)
    shutil.rmtree(job.work / "probe-drive")
    survived = 0
    for n in range(trials):
        drive = job.work / f"drive-{n}"
        export(drive, rnd.randint(1, total))
        job.bb("seed", "export", "--repo", location, "--drive", str(drive), "-q", str(src), ok=(0, 3))
        verified = job.bb("seed", "verify", "--repo", location, "--drive", str(drive), ok=(0, 1))
        survived += verified.returncode == 0
        shutil.rmtree(drive)
    return survived


def reconcile_trials(job: Job, server: S3Server, src: Path, trials: int, rnd: random.Random) -> int:
    """A seed drive loaded into a fresh bucket with two packs lost on the way; `reconcile` killed.
    Even trials have the drive attached (lost packs are put back from it), odd ones not (they are
    dropped from the index). Survived: reconcile run again completes, a backup after it completes
    and restores equal to the source, and `check` names no damage but the lost packs' snapshot."""

    def loaded(n: int) -> tuple[str, Path]:
        bucket = server.bucket(f"reconcile-{n}-{rnd_name()}")
        location, drive = server.location(bucket), job.work / f"drive-{n}"
        shutil.rmtree(drive, ignore_errors=True)
        job.bb("init", "--repo", location)
        job.bb("seed", "export", "--repo", location, "--drive", str(drive), "-q", str(src))
        job.bb("seed", "load", "--drive", str(drive), "--repo", location)
        packs = sorted((size, name) for name, size in server.objects(bucket).items() if "/data/" in name)
        for _size, name in packs[-2:]:
            server.delete(bucket, name)
        return location, drive

    def reconcile(location: str, drive: Path, with_drive: bool) -> list[str]:
        return ["reconcile", "--repo", location, *(["--drive", str(drive)] if with_drive else []), "-q"]

    totals = {}
    for with_drive in (True, False):
        location, drive = loaded(-1 - with_drive)
        totals[with_drive] = job.killed(0, *reconcile(location, drive, with_drive))
        shutil.rmtree(drive)
    survived = 0
    for n in range(trials):
        with_drive = n % 2 == 0
        location, drive = loaded(n)
        kill_at = rnd.randint(1, max(1, totals[with_drive]))
        job.killed(kill_at, *reconcile(location, drive, with_drive))
        job.bb(*reconcile(location, drive, with_drive), ok=(0, 3))  # 3: it dropped the lost packs
        job.bb("backup", "--repo", location, "-q", str(src), ok=(0, 3))
        check = json.loads(job.bb("check", "--repo", location, "--read-data", "--json", ok=(0, 1)).stdout)
        snaps = json.loads(job.bb("snapshots", "--repo", location, "--json").stdout)
        first = snaps[0]["id"][:8]  # the seed's: the lost data is gone from it unless the drive mended it
        clean = check["ok"] if with_drive else all(e.startswith(f"snapshot {first}: ") for e in check["errors"])
        restored = job.restores(location, src)
        survived += clean and restored
        how = "with the drive" if with_drive else "without it"
        print(
            f"reconcile {how}, killed after change {kill_at} of {totals[with_drive]}: check {check['errors'][:3]}, "
            f"restore {'equal' if restored else 'DIFFERS'}",
            file=sys.stderr,
        )
        shutil.rmtree(drive)
    return survived


def restore_trials(job: Job, location: str, src: Path, trials: int, rnd: random.Random) -> int:
    out = job.work / "restore-out"
    args = ["restore", "latest", "--repo", location, "--target", str(out), "-q"]
    total = job.killed(0, *args)
    survived = 0
    for _ in range(trials):
        shutil.rmtree(out)
        job.killed(rnd.randint(1, total), *args)
        named = [p for p in (out / src.name).rglob("*") if p.is_file() and not p.is_symlink()]
        whole = all(_same_file(p, src / p.relative_to(out / src.name)) for p in named)
        again = job.bb(*args, ok=(0, 3))
        survived += whole and again.returncode == 0 and compare(src, out / src.name).startswith("OK")
    shutil.rmtree(out)
    return survived


def _same_file(restored: Path, original: Path) -> bool:
    return restored.read_bytes() == original.read_bytes() and restored.stat().st_mtime_ns == original.stat().st_mtime_ns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backups", type=int, default=50)
    ap.add_argument("--others", type=int, default=5, help="kills of copy, seed export and reconcile each")
    ap.add_argument("--restores", type=int, default=10, help="kills of a restore")
    ap.add_argument("--size-mb", type=int, default=32)
    ap.add_argument("--seed", type=int, default=9)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="backbeat-kill9-"))
    src = generate(work / "src", args.size_mb, args.seed)
    server = S3Server(work / "s3")
    server.start()
    env = dict(os.environ, BACKBEAT_PASSWORD=PASSWORD, BACKBEAT_HOME=str(work / "home"), PYTHONPATH=str(HERE.parent))
    env.update(S3Server.env())
    job = Job(work, env)
    folder, bucket = str(work / "repo"), server.location(server.bucket("kill9"))
    results = {}
    try:
        for location in (folder, bucket):
            job.bb("init", "--repo", location)
            job.bb("backup", "--repo", location, "-q", str(src))
        half = args.backups // 2
        results["backup to a folder"] = (backup_trials(job, folder, src, half, rnd), half)
        results["backup to S3"] = (
            backup_trials(job, bucket, src, args.backups - half, rnd, server),
            args.backups - half,
        )
        job.bb("backup", "--repo", folder, "-q", str(src), ok=(0, 3))  # the S3 trials changed the tree
        results["restore (folder)"] = (restore_trials(job, folder, src, args.restores, rnd), args.restores)
        results["copy folder -> S3"] = (copy_trials(job, server, folder, src, args.others, rnd), args.others)
        results["seed export"] = (seed_trials(job, bucket, src, args.others, rnd), args.others)
        results["reconcile (S3)"] = (reconcile_trials(job, server, src, args.others, rnd), args.others)
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)
    for what, (survived, trials) in results.items():
        print(f"{what:20} survived {survived}/{trials}")
    print(f"all jobs: survived {sum(s for s, _ in results.values())}/{sum(t for _, t in results.values())}")


if __name__ == "__main__":
    main()
