"""Seed drive: start the export wizard; once a drive is on its way, the two ways it gets loaded (the
provider loads it, or the user uploads it from a faster connection with this computer), then check."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QProgressBar, QPushButton

from app.bridge import EngineBridge
from app.pages.common import Page, hint
from app.pages.status import status_answer
from engine.base.errors import Problem
from engine.base.progress import describe_upload

__all__ = ["SeedPage"]


class SeedPage(Page):
    def __init__(self, bridge: EngineBridge, open_wizard) -> None:
        super().__init__(
            "Seed Drive",
            "When the first upload would take weeks on your line, send it on a drive instead: back up to "
            "the drive here, post it to your storage provider, and Backbeat carries on online from there.",
        )
        self.bridge = bridge
        self.state = hint("")
        self.layout_.addWidget(self.state)
        row = QHBoxLayout()
        start = QPushButton("Make a Seed Drive…")
        start.clicked.connect(open_wizard)
        row.addWidget(start)
        self.upload = QPushButton("Upload the Drive from Here…")
        self.upload.setToolTip("On a faster connection than home's: copies the drive to your online storage")
        self.upload.clicked.connect(self._choose_drive)
        self.upload.hide()
        row.addWidget(self.upload)
        self.check = QPushButton("Check Online Storage")
        self.check.clicked.connect(lambda: bridge.run_job("reconcile", lambda s: s.reconcile()))
        row.addWidget(self.check)
        row.addStretch(1)
        self.layout_.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.layout_.addWidget(self.progress)
        self.checked = hint("")
        self.layout_.addWidget(self.checked)
        self.layout_.addStretch(1)
        bridge.answered.connect(self._answered)
        bridge.job_started.connect(self._started)
        bridge.job_finished.connect(self._finished)
        bridge.job_failed.connect(self._failed)
        bridge.progress.connect(self._progress)

    def _answered(self, name: str, answer) -> None:
        if name != "status":
            return
        (_latest, dests), _problem, _access = answer
        waiting = [d for d in dests if d.seed_exported]
        self.upload.setVisible(bool(waiting))
        self.state.setText(
            "A seed drive is on its way to "
            + ", ".join(d.location for d in waiting)
            + ": backups upload only what is not on it. It gets there one of two ways: your provider loads "
            "it (then check your online storage), or you do: take this computer and the drive to a faster "
            "connection (an office, a library, a friend's) and choose Upload the Drive from Here. It needs "
            "no passphrase, and carries on where it stopped if it is interrupted."
            if waiting
            else "No seed drive is on its way."
        )

    def _choose_drive(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "The Backbeat folder on the seed drive")
        if folder:
            self.upload_from(folder)

    def upload_from(self, drive: str) -> None:
        """Copy the drive to the destination (verified as it goes), then check online storage."""
        self.bridge.run_job("seed load", lambda s: s.seed.load(drive))

    def _progress(self, ev) -> None:
        if ev.job == "seed load" and ev.bytes_total:
            self.progress.show()
            self.progress.setValue(int(1000 * ev.bytes_done / ev.bytes_total))
            self.checked.setText(f"Uploading the drive: {describe_upload(ev)}")

    def _started(self, kind: str) -> None:
        if kind == "seed load":
            self.upload.setEnabled(False)
            self.checked.setText("Uploading the drive…")
        if kind == "reconcile":
            self.check.setEnabled(False)
            self.checked.setText("Checking your online storage…")

    def _finished(self, kind: str, r) -> None:
        if kind == "seed load":
            self.upload.setEnabled(True)
            self.progress.hide()
            if r.errors:
                self.checked.setText(f"The upload stopped: {r.errors[0]}. Choose Upload the Drive from Here again.")
            else:  # the drive is there: see what the destination holds now
                self.bridge.run_job("reconcile", lambda s: s.reconcile())
        if kind == "reconcile":
            self.check.setEnabled(True)
            self.checked.setText(r.summary())
            self.bridge.ask("status", status_answer)

    def _failed(self, kind: str, problem: Problem) -> None:
        if kind == "seed load":
            self.upload.setEnabled(True)
            self.progress.hide()
            self.checked.setText(str(problem))
        if kind == "reconcile":
            self.check.setEnabled(True)
            self.checked.setText(str(problem))
