"""Support: what a support desk asks for first (computer ID, versions, folders), ready to copy."""

from __future__ import annotations

import PySide6
from PySide6.QtWidgets import QApplication, QHBoxLayout, QPushButton, QTextEdit

from app.bridge import EngineBridge
from app.pages.common import Page

__all__ = ["SupportPage"]


class SupportPage(Page):
    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__("Support", "If something goes wrong, your support contact will ask for this.")
        about = bridge.service.about() | {"Qt": PySide6.__version__}
        self.text = QTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlainText("\n".join(f"{k}: {v}" for k, v in about.items()))
        self.layout_.addWidget(self.text)
        row = QHBoxLayout()
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QApplication.clipboard().setText(self.text.toPlainText()))
        row.addWidget(copy)
        row.addStretch(1)
        self.layout_.addLayout(row)
