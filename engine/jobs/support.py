"""Support bundle: one small .zip with what a support desk asks for first, secrets left out.

It holds `about.txt` (product, version, computer ID, OS, folders), `destinations.txt` (locations
only: keys live in the keychain, never in a location), `settings.json`, the last days of logs
(newest first, capped), `history.json` (recent runs and their errors, from the local state),
`check.txt` (a quick check of the destination) and `REDACTED.txt`, which says what was left out.
Every text passes through the log's redaction on the way in, so a secret that slipped into a file
still does not travel.
"""

from __future__ import annotations

import io
import json
import platform
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine import PRODUCT, __version__
from engine.base.clock import SYSTEM_CLOCK
from engine.base.home import app_dir, computer_id, log_dir
from engine.base.logs import LOG_NAME, scrub
from engine.config.settings import settings_path

__all__ = ["BundleReport", "about", "write_bundle"]

_LOG_CAP = 2 << 20  # bytes of logs in a bundle at most
_DAY = 86400


@dataclass
class BundleReport:
    path: str
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    redactions: int = 0

    def to_json(self) -> dict:
        return dict(self.__dict__)


def about(location: str) -> dict[str, str]:
    """What a support desk asks for first (the app adds its Qt version)."""
    return {
        "Product": f"{PRODUCT} {__version__}",
        "Computer ID": computer_id(),
        "Python": platform.python_version(),
        "Operating system": platform.platform(),
        "Destination": location,
        "App data": str(app_dir()),
        "Logs": str(log_dir()),
    }


def _recent_logs(days: int) -> list[Path]:
    """This installation's log files of the last `days` days, newest first."""
    cutoff = SYSTEM_CLOCK.wall() - days * _DAY
    files = [p for p in log_dir().glob(f"{LOG_NAME}*") if p.is_file() and p.stat().st_mtime >= cutoff]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


def write_bundle(
    output: Path,
    about: dict[str, str],
    destinations: list[str],
    history: Callable[[], list[dict]],
    check: Callable[[], str],
    days: int = 7,
) -> BundleReport:
    """`history` and `check` may fail (a locked repository, an unreachable destination): the bundle
    then says why instead, since that is itself worth knowing."""
    report = BundleReport(str(output))
    redactions = 0

    def add(zf: zipfile.ZipFile, name: str, text: str) -> None:
        nonlocal redactions
        clean, n = scrub(text)
        redactions += n
        zf.writestr(name, clean)
        report.files.append(name)

    def attempt(what: Callable[[], str]) -> str:
        try:
            return what()
        except Exception as e:  # noqa: BLE001 - the failure is part of the picture
            return f"could not be gathered: {e}\n{getattr(e, 'hint', '') or ''}"

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        add(zf, "about.txt", "".join(f"{k}: {v}\n" for k, v in about.items()))
        add(zf, "destinations.txt", "".join(f"{d}\n" for d in destinations))
        settings = settings_path()
        add(zf, "settings.json", settings.read_text() if settings.exists() else "{}  (defaults: no settings saved)\n")
        budget = _LOG_CAP
        for path in _recent_logs(days):
            data = path.read_bytes()[-budget:] if budget > 0 else b""
            if not data:
                break
            budget -= len(data)
            add(zf, f"logs/{path.name}", data.decode("utf-8", "replace"))
        add(zf, "history.json", attempt(lambda: json.dumps(history(), indent=1, default=str)))
        add(zf, "check.txt", attempt(check))
        add(
            zf,
            "REDACTED.txt",
            "Left out of this bundle: passphrases, storage keys and anything that looked like one.\n"
            "Backbeat keeps passphrases and keys in the OS keychain and never writes them to its logs or "
            f"settings; every text here was filtered once more on the way in ({redactions} replacement(s)).\n"
            "Nothing of your files is included: no names of files beyond what the logs mention, no contents.\n",
        )
    output.write_bytes(buffer.getvalue())
    report.bytes = len(buffer.getvalue())
    report.redactions = redactions
    return report
