"""Seed drive: start the export wizard; once a drive is on its way, what the provider still has to do."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QPushButton

from app.bridge import EngineBridge
from app.pages.common import Page, hint
from app.pages.status import status_answer
from engine.base.errors import Problem

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
        self.check = QPushButton("Check Online Storage")
        self.check.clicked.connect(lambda: bridge.run_job("reconcile", lambda s: s.reconcile()))
        row.addWidget(self.check)
        row.addStretch(1)
        self.layout_.addLayout(row)
        self.checked = hint("")
        self.layout_.addWidget(self.checked)
        self.layout_.addStretch(1)
        bridge.answered.connect(self._answered)
        bridge.job_started.connect(self._started)
        bridge.job_finished.connect(self._finished)
        bridge.job_failed.connect(self._failed)

    def _answered(self, name: str, answer) -> None:
        if name != "status":
            return
        (_latest, dests), _problem, _access = answer
        waiting = [d for d in dests if d.seed_exported]
        self.state.setText(
            "A seed drive is on its way to "
            + ", ".join(d.location for d in waiting)
            + ": backups upload only what is not on it. Once the provider has loaded it, check your online "
            "storage."
            if waiting
            else "No seed drive is on its way."
        )

    def _started(self, kind: str) -> None:
        if kind == "reconcile":
            self.check.setEnabled(False)
            self.checked.setText("Checking your online storage…")

    def _finished(self, kind: str, r) -> None:
        if kind == "reconcile":
            self.check.setEnabled(True)
            self.checked.setText(r.summary())
            self.bridge.ask("status", status_answer)

    def _failed(self, kind: str, problem: Problem) -> None:
        if kind == "reconcile":
            self.check.setEnabled(True)
            self.checked.setText(str(problem))
