"""The backup set's settings: what the user chose, in one JSON file in the app-data folder.

Only choices live here (folders and exclusions, the bandwidth policy, pausing on battery, on
metered networks and on Wi-Fi networks the user named, continuous backup's timing and ignore
patterns, checkpoints and upload order, which versions are kept and how space is reclaimed), never
secrets: keys and passphrases are in the OS keychain. Written atomically; a missing or unreadable file gives the
defaults, so a damaged settings file never stops a backup. Running jobs re-read it when it
changes, so a new limit set from the CLI or the app applies to a backup already under way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from engine.base.files import write_atomic
from engine.base.home import app_dir
from engine.config.bandwidth import BandwidthPolicy
from engine.config.priority import PrioritySettings
from engine.config.retention import RetentionPolicy

__all__ = [
    "Settings",
    "CheckpointSettings",
    "PruneSettings",
    "WatchSettings",
    "DEFAULT_WATCH_IGNORE",
    "load_settings",
    "save_settings",
    "update_settings",
    "settings_path",
]


#: names (of a file, or of any folder above it) whose changes never set off a continuous backup
DEFAULT_WATCH_IGNORE = (
    "*.tmp",
    "*.temp",
    "*.swp",
    "*.swx",
    "*~",
    "~$*",
    ".~lock.*",
    "*.part",
    "*.crdownload",
    "*.download",
    ".DS_Store",
    ".Spotlight-V100",
    ".fseventsd",
    ".Trash",
    ".Trashes",
    "Caches",
    ".cache",
    "__pycache__",
)


@dataclass(frozen=True)
class WatchSettings:
    """Continuous backup: when a change is protected, and how often at most a snapshot is kept."""

    #: seconds without a change before a backup starts
    quiet: float = 2.0
    #: seconds a change waits at most (a file written without pause still gets protected)
    max_wait: float = 60.0
    #: at most one snapshot kept per this many seconds: a newer one within it replaces the last
    interval: float = 300.0
    #: a full rescan this often, whatever the watcher says
    rescan_every: float = 86400.0
    ignore: tuple[str, ...] = DEFAULT_WATCH_IGNORE

    @classmethod
    def from_json(cls, doc: dict) -> WatchSettings:
        known = {
            k: doc[k] for k in ("quiet", "max_wait", "interval", "rescan_every") if isinstance(doc.get(k), int | float)
        }
        ignore = doc.get("ignore")
        return cls(**known, ignore=tuple(ignore) if isinstance(ignore, list) else DEFAULT_WATCH_IGNORE)


@dataclass(frozen=True)
class CheckpointSettings:
    """During a long run, a restorable snapshot of what has arrived so far, this often."""

    #: seconds between checkpoints
    every: float = 900.0
    #: or after this many bytes uploaded, whichever comes first
    every_bytes: int = 1 << 30

    @classmethod
    def from_json(cls, doc: dict) -> CheckpointSettings:
        d = cls()
        every, every_bytes = doc.get("every", d.every), doc.get("every_bytes", d.every_bytes)
        return cls(
            float(every) if isinstance(every, int | float) else d.every,
            int(every_bytes) if isinstance(every_bytes, int) else d.every_bytes,
        )


@dataclass(frozen=True)
class PruneSettings:
    """Reclaiming space: how often it runs by itself, and how much network it may spend."""

    #: days between automatic clean-ups (forget, then prune); 0: never by itself
    every_days: float = 7.0
    #: the share of stored bytes that may stay unused on a network destination (a disk reclaims all)
    max_unused: float = 0.05
    #: the most one prune re-uploads to a network destination by repacking; the rest waits
    repack_budget: int = 256 << 20

    @classmethod
    def from_json(cls, doc: dict) -> PruneSettings:
        d = cls()
        return cls(
            *(
                type(getattr(d, k))(doc[k]) if isinstance(doc.get(k), int | float) and doc[k] >= 0 else getattr(d, k)
                for k in ("every_days", "max_unused", "repack_budget")
            )
        )


@dataclass(frozen=True)
class Settings:
    bandwidth: BandwidthPolicy = field(default_factory=BandwidthPolicy)
    #: stop uploading while the computer runs on battery (off by default)
    pause_on_battery: bool = False
    #: the folders to back up and the patterns left out (what `backbeat watch` and the app use)
    folders: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    watch: WatchSettings = field(default_factory=WatchSettings)
    #: where backups go (a LOCATION); None: the embedded repository in the app-data folder
    destination: str | None = None
    checkpoints: CheckpointSettings = field(default_factory=CheckpointSettings)
    #: the order new and changed files go in (see engine.config.priority)
    priority: PrioritySettings = field(default_factory=PrioritySettings)
    #: which versions are kept (engine.config.retention)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    prune: PruneSettings = field(default_factory=PruneSettings)
    #: the app's notifications: first protection complete, a problem that needs the user
    notify: bool = True
    #: stop uploading on a metered network (a phone's hotspot, cellular) or one in Low Data Mode
    pause_on_metered: bool = True
    #: Wi-Fi networks (by name) never to upload on: a café's, a train's, a friend's
    never_upload_on_wifi: tuple[str, ...] = ()
    #: download a file that is only in iCloud to back it up, then free its space again (off: a
    #: download storm on a slow line, and the Mac's disk filled; never on a metered network)
    download_from_icloud: bool = False

    def to_json(self) -> dict:
        return {
            "bandwidth": self.bandwidth.to_json(),
            "pause_on_battery": self.pause_on_battery,
            "folders": list(self.folders),
            "excludes": list(self.excludes),
            "watch": asdict(self.watch) | {"ignore": list(self.watch.ignore)},
            "destination": self.destination,
            "checkpoints": asdict(self.checkpoints),
            "priority": self.priority.to_json(),
            "retention": self.retention.to_json(),
            "prune": asdict(self.prune),
            "notify": self.notify,
            "pause_on_metered": self.pause_on_metered,
            "never_upload_on_wifi": list(self.never_upload_on_wifi),
            "download_from_icloud": self.download_from_icloud,
        }

    @classmethod
    def from_json(cls, doc: dict) -> Settings:
        return cls(
            BandwidthPolicy.from_json(doc.get("bandwidth") or {}),
            bool(doc.get("pause_on_battery", False)),
            tuple(str(f) for f in doc.get("folders") or ()),
            tuple(str(e) for e in doc.get("excludes") or ()),
            WatchSettings.from_json(doc.get("watch") or {}),
            str(doc["destination"]) if doc.get("destination") else None,
            CheckpointSettings.from_json(doc.get("checkpoints") or {}),
            PrioritySettings.from_json(doc.get("priority") or {}),
            RetentionPolicy.from_json(doc.get("retention") or {}),
            PruneSettings.from_json(doc.get("prune") or {}),
            bool(doc.get("notify", True)),
            bool(doc.get("pause_on_metered", True)),
            tuple(str(n) for n in doc.get("never_upload_on_wifi") or ()),
            bool(doc.get("download_from_icloud", False)),
        )


def settings_path() -> Path:
    return app_dir() / "settings.json"


def load_settings() -> Settings:
    try:
        doc = json.loads(settings_path().read_text())
    except (FileNotFoundError, ValueError):
        return Settings()
    return Settings.from_json(doc) if isinstance(doc, dict) else Settings()


def save_settings(settings: Settings) -> None:
    write_atomic(settings_path(), json.dumps(settings.to_json(), indent=2) + "\n")


def update_settings(**changes: object) -> Settings:
    """Change only what is named and keep every other choice (never build a Settings by hand to
    save it: that would put the rest back to the defaults). Returns what was saved."""
    settings = replace(load_settings(), **changes)
    save_settings(settings)
    return settings
