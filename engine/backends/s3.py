"""A repository in an S3 bucket (AWS, Backblaze B2, Wasabi, MinIO, any S3-compatible service).

Objects live under `PREFIX/` in the bucket with the repository's own names. A body damaged on
the way is refused: TLS protects it on https, and on plain http every request signs the SHA-256
of its body (SigV4). An upload counts as stored only once the bucket reports the object at its
full size. (A Content-MD5 on top cost 0.9 s of CPU per GiB and guarded against nothing more.)
botocore's own retries are off: `engine.backends.retry` owns retrying, so that waiting for the
network is visible to the user and never gives up while a backup runs. Errors map onto
`engine.base.errors`: a missing object, a missing bucket, refused credentials (permanent, with what to
fix) and timeouts, resets and 5xx (transient). The only importer of `boto3` and `botocore`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import boto3
import botocore.exceptions
from botocore.config import Config

from engine.backends.base import is_object_name, repository_names
from engine.backends.ratelimit import Paused, TokenBucket
from engine.base.errors import (
    AccessDenied,
    BackendError,
    CredentialsRefused,
    NoCredentials,
    NoSuchBucket,
    ObjectNotFound,
    ServerFault,
    Stopped,
    TransientBackendError,
    WrongSecretKey,
)
from engine.config.destination import S3Location

__all__ = ["S3Backend", "S3Credentials"]

_TRANSIENT_CODES = {"RequestTimeout", "RequestTimeTooSkewed", "SlowDown", "InternalError", "ServiceUnavailable"}
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
#: an upload paused longer than this closes its request; S3 itself drops a silent one after about 20 s
_HOLD_WHILE_PAUSED = 15.0


@dataclass(frozen=True)
class S3Credentials:
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:  # never in logs or tracebacks
        return "S3Credentials(<hidden>)"


def _translate(e: Exception, what: str, location: S3Location) -> Exception:
    if isinstance(e.__context__, (Paused, Stopped)):  # botocore wraps what the body's read raised
        return e.__context__
    if isinstance(e, botocore.exceptions.NoCredentialsError):
        return NoCredentials(str(location))
    if isinstance(e, botocore.exceptions.ClientError):
        err = e.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in ("NoSuchKey", "404", "NotFound"):
            return ObjectNotFound(what)
        if code == "NoSuchBucket":
            return NoSuchBucket(location.bucket)
        if code == "SignatureDoesNotMatch":
            return WrongSecretKey(str(location))
        if code in _CREDENTIAL_CODES:
            return CredentialsRefused(f"{location} ({err.get('Message') or code})")
        if code in ("AccessDenied", "403", "Forbidden"):
            return AccessDenied(f"{location} ({what})")
        if code == "InternalError" or status == 500:
            return ServerFault(f"{location}: {what}: {code or status}")
        if code in _TRANSIENT_CODES or status >= 500:
            return TransientBackendError(f"{location}: {code or status}")
        return BackendError(f"{location}: {code} {err.get('Message', '')}".strip())
    if isinstance(e, botocore.exceptions.BotoCoreError | ConnectionError | TimeoutError | OSError):
        host = location.endpoint or "Amazon S3"
        return TransientBackendError(
            f"cannot reach {host} ({type(e).__name__})",
            hint="Check the internet connection (and that the server is running); Backbeat retries on its own.",
        )
    return e


class _MeteredBody:
    """A request body whose bytes ask the process-wide bucket before they leave, a slice at a time.

    botocore reads the body once to sign its SHA-256 (plain http) before sending it; those reads
    cost no tokens. `before-send` switches metering on for the reads that feed the socket.
    """

    def __init__(self, raw: BinaryIO, bucket: TokenBucket) -> None:
        self._raw = raw
        self._bucket = bucket
        self.metering = False

    def read(self, n: int = -1) -> bytes:
        if not self.metering:
            return self._raw.read(n)
        return self._raw.read(self._bucket.take(n if n and n > 0 else 1 << 20, _HOLD_WHILE_PAUSED))

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


def _start_metering(request, **_kwargs) -> None:
    if isinstance(request.body, _MeteredBody):
        request.body.metering = True


class S3Backend:
    is_network = True

    def __init__(
        self,
        location: S3Location,
        credentials: S3Credentials | None = None,
        bucket: TokenBucket | None = None,
        max_connections: int = 10,
    ) -> None:
        self._bucket = bucket
        self.s3 = location
        self.location = str(location)
        self._prefix = f"{location.prefix.strip('/')}/" if location.prefix.strip("/") else ""
        keys = {}
        if credentials is not None:
            keys = {
                "aws_access_key_id": credentials.access_key_id,
                "aws_secret_access_key": credentials.secret_access_key,
            }
        config = Config(
            retries={"total_max_attempts": 1},
            connect_timeout=10,
            read_timeout=60,
            max_pool_connections=max_connections,
            s3={
                "addressing_style": "path" if location.endpoint else "auto",
                # TLS protects the body in transit; on plain http its SHA-256 is signed (the server checks it)
                "payload_signing_enabled": not (location.endpoint or "https:").startswith("https:"),
            },
            request_checksum_calculation="when_required",  # no extra checksum pass (see above)
            response_checksum_validation="when_required",  # a ranged read cannot match a whole-object checksum
        )
        session = boto3.session.Session()
        region = session.region_name or ("us-east-1" if location.endpoint else None)
        self._client = session.client("s3", endpoint_url=location.endpoint, region_name=region, config=config, **keys)
        self._client.meta.events.register("before-send.s3.PutObject", _start_metering)

    def _key(self, name: str) -> str:
        return self._prefix + name

    def _call(self, what: str, fn, **kwargs):
        if self._bucket is not None:
            self._bucket.wait_while_paused()  # here, not in a hook: a request signed long ago is refused
        try:
            return fn(Bucket=self.s3.bucket, **kwargs)
        except Exception as e:  # noqa: BLE001 - every botocore failure is translated
            raise _translate(e, what, self.s3) from e

    def exists(self) -> bool:
        try:
            self.size("config")
            return True
        except ObjectNotFound:
            return False
        except AccessDenied:
            # A HEAD answer has no body, so a wrong key and missing rights both come back as a bare
            # 403: a listing's answer says which (and raises it); if it goes through, rights are missing.
            self._call("config", self._client.list_objects_v2, Prefix=self._key("config"), MaxKeys=1)
            raise

    def put(self, name: str, data: bytes | memoryview) -> None:
        self._put(name, io.BytesIO(data), len(data))

    def put_file(self, name: str, path: str) -> None:
        with open(path, "rb") as f:
            self._put(name, f, os.fstat(f.fileno()).st_size)

    def _put(self, name: str, body: BinaryIO, size: int) -> None:
        while True:
            sent = _MeteredBody(body, self._bucket) if self._bucket is not None else body
            try:
                self._call(name, self._client.put_object, Key=self._key(name), Body=sent, ContentLength=size)
                break
            except Paused:
                body.seek(0)  # the request was closed during a long pause: send it whole after it
        stored = self.size(name)
        if stored != size:
            raise TransientBackendError(f"{self.location}: {name} arrived with {stored} of {size} bytes")

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        kwargs = {}
        if offset < 0:
            kwargs["Range"] = f"bytes={offset}"
        elif length is not None:
            if length == 0:
                return b""
            kwargs["Range"] = f"bytes={offset}-{offset + length - 1}"
        elif offset:
            kwargs["Range"] = f"bytes={offset}-"
        answer = self._call(name, self._client.get_object, Key=self._key(name), **kwargs)
        try:
            return answer["Body"].read()
        except Exception as e:  # noqa: BLE001 - a reset while reading the body
            raise _translate(e, name, self.s3) from e

    def size(self, name: str) -> int:
        return int(self._call(name, self._client.head_object, Key=self._key(name))["ContentLength"])

    def list_sizes(self, prefix: str) -> dict[str, int]:
        return repository_names({name: int(obj["Size"]) for name, obj in self._listed(prefix)}, self.location)

    def list_md5(self, prefix: str) -> dict[str, str]:
        """A single-part upload's ETag is the MD5 of its content (quoted hex); a multipart one's is
        not (it ends in "-<parts>"): those are left out."""
        out = {}
        for name, obj in self._listed(prefix):
            etag = str(obj.get("ETag", "")).strip('"').lower()
            hex_md5 = len(etag) == 32 and all(c in "0123456789abcdef" for c in etag)
            if hex_md5 and is_object_name(name):  # list_sizes warns of foreign names
                out[name] = etag
        return out

    def _listed(self, prefix: str) -> Iterator[tuple[str, dict]]:
        token = None
        while True:
            kwargs = {"Prefix": self._key(prefix)}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call(prefix, self._client.list_objects_v2, **kwargs)
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self._prefix) :], obj
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def list(self, prefix: str) -> list[str]:
        return sorted(self.list_sizes(prefix))

    def delete(self, name: str) -> None:
        self._call(name, self._client.delete_object, Key=self._key(name))
