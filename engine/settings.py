"""The backup set's settings: what the user chose, in one JSON file in the app-data folder.

Only choices live here (the bandwidth policy, pausing on battery), never secrets: keys and
passphrases are in the OS keychain. Written atomically; a missing or unreadable file gives the
defaults, so a damaged settings file never stops a backup. Running jobs re-read it when it
changes, so a new limit set from the CLI or the app applies to a backup already under way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.bandwidth import BandwidthPolicy
from engine.home import app_dir

__all__ = ["Settings", "load_settings", "save_settings", "settings_path"]


@dataclass(frozen=True)
class Settings:
    bandwidth: BandwidthPolicy = field(default_factory=BandwidthPolicy)
    #: stop uploading while the computer runs on battery (off by default)
    pause_on_battery: bool = False

    def to_json(self) -> dict:
        return {"bandwidth": self.bandwidth.to_json(), "pause_on_battery": self.pause_on_battery}

    @classmethod
    def from_json(cls, doc: dict) -> Settings:
        return cls(BandwidthPolicy.from_json(doc.get("bandwidth") or {}), bool(doc.get("pause_on_battery", False)))


def settings_path() -> Path:
    return app_dir() / "settings.json"


def load_settings() -> Settings:
    try:
        doc = json.loads(settings_path().read_text())
    except (FileNotFoundError, ValueError):
        return Settings()
    return Settings.from_json(doc) if isinstance(doc, dict) else Settings()


def save_settings(settings: Settings) -> None:
    path = settings_path()
    tmp = path.with_name(f".settings.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(settings.to_json(), indent=2) + "\n")
    os.replace(tmp, path)
