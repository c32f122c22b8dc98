"""A hostile S3 server for the tests: it answers a listing with whatever keys it is given (`..`,
other folders) and serves any key's bytes. It stands in for a destination that turned against
the user; the client side (boto3, the S3 backend) is the real one."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import escape


class HostileS3:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects  # full key (bucket-relative) -> bytes
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                if "list-type" in query:
                    prefix = query.get("prefix", [""])[0]
                    rows = "".join(
                        f"<Contents><Key>{escape(k)}</Key><Size>{len(v)}</Size></Contents>"
                        for k, v in server.objects.items()
                        if k.startswith(prefix)
                    )
                    body = f"<ListBucketResult><IsTruncated>false</IsTruncated>{rows}</ListBucketResult>"
                    return self._answer(200, body.encode(), "application/xml")
                key = unquote(url.path.split("/", 2)[2])
                if key not in server.objects:
                    return self._answer(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
                self._answer(200, server.objects[key], "application/octet-stream")

            def do_HEAD(self) -> None:
                key = unquote(urlparse(self.path).path.split("/", 2)[2])
                data = server.objects.get(key)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._http.server_address[1]}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def location(self, bucket: str = "bucket", prefix: str = "repo") -> str:
        return f"s3:{self.endpoint}/{bucket}/{prefix}"

    def close(self) -> None:
        self._http.shutdown()
