"""LOCATION strings, what `--repo` and the app take, turned into backends.

    /path/to/folder                         a local folder (a disk, a USB or seed drive)
    s3://BUCKET[/PREFIX]                    Amazon S3; the region comes from the usual AWS configuration
    s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX] any other S3-compatible service (restic's convention)

boto3 is imported only for S3 locations: a backup to a local folder does not pay its start-up.
Network destinations come wrapped in `Retrying`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from engine.backends.base import Backend
from engine.backends.local import LocalBackend
from engine.backends.ratelimit import TokenBucket
from engine.backends.retry import Retrying
from engine.base.errors import TransientBackendError, UsageError

__all__ = ["is_s3", "parse_s3", "s3_location", "open_location", "plain_http_note"]

_AWS = re.compile(r"^s3://(?P<bucket>[^/]+)(?:/(?P<prefix>.*))?$")
_ENDPOINT = re.compile(r"^s3:(?P<endpoint>https?://[^/]+)/(?P<bucket>[^/]+)(?:/(?P<prefix>.*))?$")


def is_s3(location: str) -> bool:
    return location.startswith("s3:")


def s3_location(bucket: str, prefix: str = "", endpoint: str | None = None) -> str:
    """The LOCATION for a bucket (the app's fields); `parse_s3` reads it back."""
    path = f"{bucket.strip('/')}/{prefix.strip('/')}".rstrip("/")
    return f"s3:{endpoint.rstrip('/')}/{path}" if endpoint else f"s3://{path}"


def parse_s3(location: str):
    """-> engine.backends.s3.S3Location, without importing boto3."""
    from engine.backends.s3 import S3Location

    m = _AWS.match(location) or _ENDPOINT.match(location)
    if not m:
        raise UsageError(
            f"not an S3 location: {location}",
            hint="Use s3://BUCKET[/PREFIX] for Amazon S3, or s3:https://HOST[:PORT]/BUCKET[/PREFIX] for others.",
        )
    parts = m.groupdict()
    return S3Location(parts["bucket"], (parts.get("prefix") or "").strip("/"), parts.get("endpoint"))


def plain_http_note(location: str) -> str | None:
    """What to say of an S3 location reached over plain HTTP beyond this computer (None otherwise)."""
    m = _ENDPOINT.match(location)
    if not m or not m["endpoint"].startswith("http://"):
        return None
    host = m["endpoint"][len("http://") :].rsplit(":", 1)[0].strip("[]")
    if host == "localhost" or host == "::1" or host.startswith("127."):
        return None
    return (
        "this storage service is reached over plain http: what is stored is encrypted before it leaves, "
        "but anyone on the way sees the names and sizes of the objects and the requests; use https:// if it can"
    )


def open_location(
    location: str,
    credentials=None,
    on_wait: Callable[[float, TransientBackendError], None] = lambda delay, err: None,
    bucket: TokenBucket | None = None,
) -> Backend:
    """`bucket` meters what is sent to a network destination; local folders are never throttled."""
    if is_s3(location):
        from engine.backends.s3 import S3Backend

        return Retrying(S3Backend(parse_s3(location), credentials, bucket), on_wait)
    return LocalBackend(location)
