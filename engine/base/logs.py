"""The engine's log: rotating files in the platform's log folder, for support, with every secret redacted.

One line per run summary, per file skipped (and why), per network retry and per error. The file
rolls over at midnight or at 5 MiB, whichever comes first, and keeps seven (a week at most, 40
MiB in all). Secrets never reach it: every passphrase and key the process learns is registered
with `redact`, and a filter replaces them (and anything that looks like an AWS secret assignment)
in every record before it is written. The console shows warnings, or more with --verbose/--debug;
the file keeps INFO and above.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from pathlib import Path

from engine.base.home import log_dir

__all__ = ["setup_logging", "redact", "scrub", "log", "LOG_NAME"]

LOG_NAME = "backbeat.log"
_MAX_BYTES = 5 << 20
_KEEP = 7
_MASK = "[redacted]"
_ASSIGNMENT = re.compile(r"(?i)(secret[_ ]?(access[_ ]?)?key|password|passphrase)(\s*[=:]\s*)(\S+)")

log = logging.getLogger("backbeat")
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def redact(secret: str | None) -> None:
    """Never let `secret` into a log line (a passphrase, a secret key)."""
    if secret and len(secret) >= 4:
        with _secrets_lock:
            _secrets.add(secret)


def scrub(text: str) -> tuple[str, int]:
    """`text` without any registered secret or secret-looking assignment, and how many were replaced."""
    count = 0
    with _secrets_lock:
        for s in _secrets:
            count += text.count(s)
            text = text.replace(s, _MASK)
    text, n = _ASSIGNMENT.subn(lambda m: m.group(1) + m.group(3) + _MASK, text)
    return text, count + n


def _clean(text: str) -> str:
    return scrub(text)[0]


class _Redacting(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _clean(record.getMessage())
        record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _Rotating(logging.handlers.TimedRotatingFileHandler):
    """Daily files, and a new one early when a day's passes the size cap."""

    def __init__(self, path: Path, max_bytes: int = _MAX_BYTES, keep: int = _KEEP) -> None:
        super().__init__(path, when="midnight", backupCount=keep, encoding="utf-8", delay=True)
        self.max_bytes = max_bytes

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 - logging's name
        if super().shouldRollover(record):
            return True
        return self.stream is not None and self.stream.tell() >= self.max_bytes


def setup_logging(console_level: int = logging.WARNING, folder: Path | None = None) -> Path:
    """Log to the folder's rotating file (INFO and up) and to stderr at `console_level`; returns the file."""
    path = (folder or log_dir()) / LOG_NAME
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    log.setLevel(logging.DEBUG)
    log.propagate = False
    logging.raiseExceptions = False  # a log that cannot be written (a full disk) must not stop or flood a run
    redacting = _Redacting()
    to_file = _Rotating(path)
    to_file.setLevel(logging.INFO)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    to_file.addFilter(redacting)
    console = logging.StreamHandler()
    console.setLevel(console_level)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console.addFilter(redacting)
    log.addHandler(to_file)
    log.addHandler(console)
    return path
