"""Support: what a support desk asks for first (computer ID, versions, folders), ready to copy."""

from __future__ import annotations

from pathlib import Path

import PySide6
from PySide6.QtWidgets import QApplication, QFileDialog, QHBoxLayout, QPushButton, QTextEdit

from app.bridge import EngineBridge
from app.pages.common import Page, hint
from engine.base.errors import Problem
from engine.base.units import format_bytes

__all__ = ["SupportPage"]


class SupportPage(Page):
    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__("Support", "If something goes wrong, your support contact will ask for this.")
        self.bridge = bridge
        about = bridge.service.about() | {"Qt": PySide6.__version__}
        self.text = QTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlainText("\n".join(f"{k}: {v}" for k, v in about.items()))
        self.layout_.addWidget(self.text)
        row = QHBoxLayout()
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QApplication.clipboard().setText(self.text.toPlainText()))
        row.addWidget(copy)
        bundle = QPushButton("Create Support Bundle…")
        bundle.clicked.connect(self._choose_bundle)
        row.addWidget(bundle)
        row.addStretch(1)
        self.layout_.addLayout(row)
        self.result = hint(
            "A support bundle is one .zip with this information, your settings, recent logs and backup "
            "history, and a check of your backup. It never contains your passphrase, your keys or your files."
        )
        self.layout_.addWidget(self.result)
        bridge.job_finished.connect(self._finished)
        bridge.job_failed.connect(self._failed)

    def _choose_bundle(self) -> None:
        default = str(Path.home() / "Desktop" / "backbeat-support.zip")
        path, _ = QFileDialog.getSaveFileName(self, "Save the support bundle", default, "Zip archives (*.zip)")
        if path:
            self.create_bundle(path)

    def create_bundle(self, path: str) -> None:
        self.result.setText("Gathering…")
        self.bridge.run_job("support-bundle", lambda s: s.support_bundle(path))

    def _finished(self, kind: str, r) -> None:
        if kind == "support-bundle":
            self.result.setText(f"Saved {r.path} ({format_bytes(r.bytes)}). Send it to your support contact.")

    def _failed(self, kind: str, problem: Problem) -> None:
        if kind == "support-bundle":
            self.result.setText(str(problem))
