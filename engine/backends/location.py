"""LOCATION strings (engine.config.destination) turned into backends.

boto3 is imported only for S3 locations: a backup to a local folder does not pay its start-up.
Network destinations come wrapped in `Retrying`.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.backends.base import Backend
from engine.backends.local import LocalBackend
from engine.backends.ratelimit import TokenBucket
from engine.backends.retry import Retrying
from engine.base.errors import TransientBackendError
from engine.config.destination import is_s3, parse_s3

__all__ = ["open_location"]


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
