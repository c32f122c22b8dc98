"""The seed drive export wizard: what a seed drive is, the drive, the size check, export, verify, what next."""

from __future__ import annotations

import os
import shutil

import psutil
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from app.bridge import EngineBridge
from app.pages.common import hint
from engine.base.errors import BackbeatError, Problem
from engine.base.units import format_bytes, format_duration
from engine.config.settings import load_settings
from engine.service import BackupService

__all__ = ["SeedWizard"]

_TYPICAL_UPLOAD = 1_300_000 / 8 * 0.8  # bytes per second when nothing was measured yet: a DSL line


def volumes() -> list[tuple[str, int]]:
    """Mounted volumes a user could plug a drive into (mount point, free bytes)."""
    out = []
    for part in psutil.disk_partitions(all=False):
        if part.mountpoint.startswith(("/Volumes/", "/media/", "/mnt/", "/run/media/")):
            try:
                out.append((part.mountpoint, shutil.disk_usage(part.mountpoint).free))
            except OSError:
                continue
    return out


class IntroPage(QWizardPage):
    def __init__(self, wizard: SeedWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Send your first backup on a drive")
        layout = QVBoxLayout(self)
        layout.addWidget(
            hint(
                "A seed drive carries your first backup to the storage provider by post. You back up to "
                "the drive here, at disk speed; the provider copies it into your online storage; from then "
                "on Backbeat uploads only what changed. It helps when the first upload would take weeks."
            )
        )
        self.estimate = QLabel("Measuring what you back up…")
        self.estimate.setWordWrap(True)
        layout.addWidget(self.estimate)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.w.bridge.ask("seed-size", _sizes)

    def show_estimate(self, size: int, online: int, rate: float) -> None:
        left = max(0, size - online)
        if size and left == 0:
            self.estimate.setText(
                f"All you back up ({format_bytes(size)}) is online already: a seed drive would not save you "
                "anything. Backbeat keeps it up to date over the internet."
            )
            return
        days = left / rate / 86400
        already = f" {format_bytes(online)} of it is online already; the rest" if online else ""
        self.estimate.setText(
            f"You back up {format_bytes(size)}.{already} At {format_bytes(rate)}/s, the first upload would take "
            f"about {format_duration(left / rate)}"
            + (" — a seed drive will save you time." if days > 2 else ".")
            + (" The drive carries only what is not online yet." if online else "")
        )


def _sizes(service: BackupService) -> tuple[int, int]:
    """(the selection's size, how much of it the destination holds): a seed drive carries the difference."""
    settings = load_settings()
    size = service.selection_bytes(list(settings.folders), list(settings.excludes))
    try:
        _latest, dests = service.status()
    except BackbeatError:  # offline: as if nothing were online
        return size, 0
    return size, next((d.bytes_backed_up for d in dests if d.location == service.location), 0)


class DrivePage(QWizardPage):
    def __init__(self, wizard: SeedWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Choose the drive")
        layout = QVBoxLayout(self)
        layout.addWidget(hint("Plug the drive in and pick it. Backbeat writes into a folder named Backbeat on it."))
        self.list = QListWidget()
        layout.addWidget(self.list)
        other = QPushButton("Choose Another Folder…")
        other.clicked.connect(self._choose)
        layout.addWidget(other)
        self.space = QLabel("")
        self.space.setWordWrap(True)
        layout.addWidget(self.space)
        self.list.currentItemChanged.connect(self._picked)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.list.clear()
        for mount, free in volumes():
            item = QListWidgetItem(f"{mount} — {format_bytes(free)} free")
            item.setData(256, mount)
            self.list.addItem(item)
        if not self.list.count():
            self.list.addItem(QListWidgetItem("No external drive found: plug one in, or choose a folder below."))

    def _choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the drive (or a folder on it)")
        if folder:
            self.set_drive(folder)

    def _picked(self, item: QListWidgetItem | None) -> None:
        if item is not None and item.data(256):
            self.set_drive(item.data(256))

    def set_drive(self, mount: str) -> None:
        self.w.drive = os.path.join(mount, "Backbeat")
        free = shutil.disk_usage(mount).free
        need = self.w.size
        verdict = "It fits." if need is None or need < free else "It does not fit: choose a bigger drive."
        self.space.setText(
            f"{self.w.drive}: {format_bytes(free)} free; your backup needs at most {format_bytes(need or 0)}. "
            + verdict
        )
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.w.drive is not None


def _show_progress(bar: QProgressBar, label: QLabel, ev, doing: str = "") -> None:
    """A drive job's progress: the bar, and "<doing>12 MB of 40 MB — 2 min left"."""
    if ev.bytes_total:
        bar.setValue(int(100 * ev.bytes_done / ev.bytes_total))
        eta = f" — {format_duration(ev.eta_seconds)} left" if ev.eta_seconds else ""
        label.setText(f"{doing}{format_bytes(ev.bytes_done)} of {format_bytes(ev.bytes_total)}{eta}")


class ExportPage(QWizardPage):
    def __init__(self, wizard: SeedWizard) -> None:
        super().__init__()
        self.w = wizard
        self.done = False
        self.setTitle("Writing the seed drive")
        layout = QVBoxLayout(self)
        self.progress = QProgressBar()
        layout.addWidget(self.progress)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        layout.addWidget(self.label)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.done = False
        folders = list(load_settings().folders)
        excludes = list(load_settings().excludes)
        drive = self.w.drive
        self.label.setText(f"Backing up to {drive}…")
        self.w.bridge.run_job("seed-export", lambda s: s.seed.export(drive, folders, excludes))

    def progress_event(self, ev) -> None:
        _show_progress(self.progress, self.label, ev)

    def finished(self, summary) -> None:
        self.done = True
        self.progress.setValue(100)
        self.label.setText(f"Done: {format_bytes(summary.bytes_added)} written to the drive.")
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.done


class VerifyPage(QWizardPage):
    def __init__(self, wizard: SeedWizard) -> None:
        super().__init__()
        self.w = wizard
        self.ok = False
        self.setTitle("Checking the drive")
        layout = QVBoxLayout(self)
        self.progress = QProgressBar()
        layout.addWidget(self.progress)
        self.label = QLabel("Reading everything back…")
        self.label.setWordWrap(True)
        layout.addWidget(self.label)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        drive = self.w.drive
        self.progress.setValue(0)
        self.w.bridge.run_job("seed-verify", lambda s: s.seed.verify(drive))

    def progress_event(self, ev) -> None:
        _show_progress(self.progress, self.label, ev, "Reading back ")

    def finished(self, report) -> None:
        self.ok = report.ok
        self.progress.setValue(100)
        self.label.setText(
            f"All {report.objects} objects on the drive are intact."
            if report.ok
            else f"The drive is damaged: {', '.join((report.missing + report.corrupt)[:5])}. Export again."
        )
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.ok


class NextPage(QWizardPage):
    def __init__(self, wizard: SeedWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Ship the drive")
        layout = QVBoxLayout(self)
        self.label = hint("")
        layout.addWidget(self.label)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.label.setText(
            "Eject the drive. It reaches your online storage one of two ways:\n\n"
            "• Your storage provider loads it: send it with the instructions it asks for (a copy is on the "
            f"drive: README-BACKBEAT-SEED.txt in {self.w.drive}). When they confirm, choose Check Online "
            "Storage on the Seed Drive page.\n\n"
            "• You upload it yourself from a faster connection than home's (an office, a library, a friend's): "
            "take this computer and the drive there, and choose Upload the Drive from Here on the Seed Drive "
            "page. No passphrase is needed, and it carries on where it stopped.\n\n"
            "Until then, Backbeat uploads only what is not on the drive."
        )


class SeedWizard(QWizard):
    def __init__(self, bridge: EngineBridge, parent=None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.drive: str | None = None
        self.size: int | None = None
        self.setWindowTitle("Seed Drive")
        self.setWizardStyle(QWizard.ModernStyle)
        self.setMinimumSize(620, 440)
        self.intro, self.drive_page = IntroPage(self), DrivePage(self)
        self.export, self.verify, self.next_page = ExportPage(self), VerifyPage(self), NextPage(self)
        for page in (self.intro, self.drive_page, self.export, self.verify, self.next_page):
            self.addPage(page)
        bridge.answered.connect(self._answered)
        bridge.progress.connect(self._progress)
        bridge.job_finished.connect(self._finished)
        bridge.job_failed.connect(self._failed)

    def reject(self) -> None:
        """Cancel stops an export under way: the drive keeps what was written, and the next
        export onto it carries on from there."""
        if self.currentPage() is self.export and not self.export.done:
            self.bridge.stop_job()
        super().reject()

    def _answered(self, name: str, answer) -> None:
        if name == "seed-size":
            self.size, online = answer
            rate = self.bridge.service.bandwidth().upload_rate or _TYPICAL_UPLOAD
            self.intro.show_estimate(self.size, online, rate)

    def _progress(self, ev) -> None:
        if self.currentPage() is self.export and ev.job == "seed export":  # not a backup running beside it
            self.export.progress_event(ev)
        elif self.currentPage() is self.verify and ev.job == "seed verify":
            self.verify.progress_event(ev)

    def _finished(self, kind: str, result) -> None:
        if kind == "seed-export":
            self.export.finished(result)
        elif kind == "seed-verify":
            self.verify.finished(result)

    def _failed(self, kind: str, problem: Problem) -> None:
        if kind == "seed-export":
            self.export.label.setText(str(problem))
        elif kind == "seed-verify":
            self.verify.label.setText(str(problem))
