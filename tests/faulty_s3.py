"""A faulty front for a real S3 server: every request goes through to it unchanged, except those for
the keys in `failing`, which get the server's own error (HTTP 500 InternalError) every time, as a
provider's disk or node that fails on one object does, and the next `fail_next` requests of any
key get it too. The client side is the real one. What it
served to GETs is noted (`served`), so a test can see how much of an object a client read."""

from __future__ import annotations

import http.client
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

_FAULT = b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"


class FaultyS3:
    def __init__(self, upstream: str) -> None:
        url = urlparse(upstream)
        self.failing: set[str] = set()  # keys, bucket-relative ("bucket/repo/data/ab/…")
        self.faults = 0
        self.fail_next = 0  # requests of any key still to be failed, as a server busy making a bucket does
        self._next_lock = threading.Lock()
        self.served: list[tuple[str, int]] = []  # (key, bytes of the body) of each GET answered
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _relay(self) -> None:
                key = unquote(urlparse(self.path).path.lstrip("/"))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if key in front.failing or front.failing_now():
                    front.faults += 1
                    return self._answer(500, {"Content-Type": "application/xml"}, _FAULT)
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
                try:  # the headers go as they came: the request's signature covers them
                    conn.request(self.command, self.path, body, dict(self.headers))
                    got = conn.getresponse()
                    data = got.read()
                    headers = {
                        k: v for k, v in got.getheaders() if k.lower() not in ("transfer-encoding", "connection")
                    }
                    if self.command == "GET":
                        front.served.append((key, len(data)))
                    self._answer(got.status, headers, data, head=self.command == "HEAD")
                finally:
                    conn.close()

            def _answer(self, status: int, headers: dict[str, str], data: bytes, head: bool = False) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() != "content-length":
                        self.send_header(k, v)
                length = headers.get("Content-Length") or headers.get("content-length") if head else None
                self.send_header("Content-Length", str(length if length is not None else len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _relay

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._http.server_address[1]}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def failing_now(self) -> bool:
        with self._next_lock:
            if self.fail_next <= 0:
                return False
            self.fail_next -= 1
            return True

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def backed_up(location: str, src: Path, names: list[str], size: int) -> None:
    """Files of `size` random bytes under these `names` in a new folder `src`, backed up to a new
    repository at `location` by a service closed after: a test then reads it through a front."""
    from engine.service import BackupService
    from tests.conftest import PASSWORD

    src.mkdir()
    for name in names:
        (src / name).write_bytes(os.urandom(size))
    made = BackupService(location)
    made.init(PASSWORD)
    made.unlock(PASSWORD)
    made.backup([str(src)])
    made.close()
