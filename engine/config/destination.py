"""A destination as the user spells it: LOCATION strings, what `--repo` and the app take.

    /path/to/folder                         a local folder (a disk, a USB or seed drive)
    s3://BUCKET[/PREFIX]                    Amazon S3; the region comes from the usual AWS configuration
    s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX] any other S3-compatible service (restic's convention)

Reading and writing the spelling only; `engine.backends.location` opens one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.base.errors import UsageError

__all__ = ["S3Location", "is_s3", "parse_s3", "s3_location", "plain_http_note"]


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""
    endpoint: str | None = None  # None: AWS, region from the usual AWS configuration

    def __str__(self) -> str:
        path = f"{self.bucket}/{self.prefix}".rstrip("/")
        return f"s3:{self.endpoint}/{path}" if self.endpoint else f"s3://{path}"


_AWS = re.compile(r"^s3://(?P<bucket>[^/]+)(?:/(?P<prefix>.*))?$")
_ENDPOINT = re.compile(r"^s3:(?P<endpoint>https?://[^/]+)/(?P<bucket>[^/]+)(?:/(?P<prefix>.*))?$")


def is_s3(location: str) -> bool:
    return location.startswith("s3:")


def s3_location(bucket: str, prefix: str = "", endpoint: str | None = None) -> str:
    """The LOCATION for a bucket (the app's fields); `parse_s3` reads it back."""
    path = f"{bucket.strip('/')}/{prefix.strip('/')}".rstrip("/")
    return f"s3:{endpoint.rstrip('/')}/{path}" if endpoint else f"s3://{path}"


def parse_s3(location: str):
    """The bucket, prefix and endpoint of an S3 LOCATION."""
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
