"""The door's view of the household line: the upload limit in force and why, the upload under
way (here or in another process of this computer), and a limit for this service's runs only.

Part of the door (engine.service.door.BackupService); the pacing itself is `engine.meter`'s.
"""

from __future__ import annotations

from engine.backends.base import Backend
from engine.base.events import Progress
from engine.config.settings import load_settings
from engine.jobs.backup import RunOptions
from engine.meter.control import read_activity
from engine.meter.pacing import BandwidthStatus, Pacer

__all__ = ["Line"]


class Line:
    """The door (engine.service.door.BackupService) provides these."""

    backend: Backend
    pacer: Pacer

    def set_limit(self, bytes_per_second: float | None) -> None:
        """A limit for this service's runs only, over the settings' policy (None: the policy again)."""
        self.pacer.override = bytes_per_second

    def upload_progress(self) -> Progress | None:
        """The upload under way (bytes sent of the forecast, rate, finish), here or in another process."""
        doc = self.pacer.upload if self.pacer.active else (read_activity() or {}).get("upload")
        return Progress(**doc) if doc else None

    def bandwidth(self) -> BandwidthStatus:
        """The limit in force and why; from the job running in another process when there is one."""
        live = read_activity()
        if live is not None and not self.pacer.active:
            return BandwidthStatus(**{k: live[k] for k in BandwidthStatus.__dataclass_fields__ if k in live})
        return self.pacer.status()

    def run_options(self) -> RunOptions:
        settings = load_settings()
        line = self.pacer if self.backend.is_network else None
        return RunOptions(settings.checkpoints, settings.priority, line, settings.download_from_icloud)
