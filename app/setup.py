"""First run: a passphrase (with a strength hint and the warning that nobody can recover it), where to back
up, and what; or connect to a backup that exists."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app import loginitem
from app.destination import DestinationForm
from app.pages.common import hint, title
from engine.base.errors import Problem
from engine.base.passphrase_strength import is_weak, strength
from engine.service.setup import set_up

__all__ = ["SetupDialog"]


class SetupDialog(QDialog):
    #: the set-up has ended (accepted, or a problem is shown)
    settled = Signal()
    _done = Signal(object)  # from the worker thread: a Problem, or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._words = ""
        self._done.connect(self._settle)
        self.setWindowTitle("Welcome to Backbeat")
        self.setMinimumWidth(560)
        self.passphrase_value: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(12)
        layout.addWidget(title("Set up your backup"))
        self.new = QRadioButton("Start a new backup")
        self.existing = QRadioButton("Connect to a backup I already have")
        self.new.setChecked(True)
        layout.addWidget(self.new)
        layout.addWidget(self.existing)
        self.explain = hint("")
        layout.addWidget(self.explain)
        self._form = self._fields()
        layout.addLayout(self._form)
        self.error = hint("")
        self.error.setObjectName("problem")
        layout.addWidget(self.error)
        layout.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok = buttons.button(QDialogButtonBox.Ok)
        buttons.accepted.connect(self.finish)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.existing.toggled.connect(self._mode)
        self._mode()

    def _fields(self) -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.destination = DestinationForm(form, self, "empty: Backbeat's folder on this computer")
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.Password)
        self.again = QLineEdit()
        self.again.setEchoMode(QLineEdit.Password)
        self.meter = QLabel("")
        self.meter.setObjectName("hint")
        self.passphrase.textChanged.connect(self._strength)
        form.addRow("Passphrase:", self.passphrase)
        form.addRow("Type it again:", self.again)
        form.addRow("", self.meter)
        self.folder = QLineEdit(_default_folder())
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._pick)
        row = QHBoxLayout()
        row.addWidget(self.folder)
        row.addWidget(choose)
        form.addRow("Back up this folder:", row)
        self.at_login = QCheckBox("Start Backbeat when I log in, so my files stay protected")
        self.at_login.setChecked(True)
        form.addRow("", self.at_login)
        return form

    def _mode(self) -> None:
        new = self.new.isChecked()
        self.explain.setText(
            "Everything Backbeat stores is encrypted with your passphrase. Nobody can recover it for you, "
            "not even Backbeat: write it down and keep it somewhere safe."
            if new
            else "Enter where the backup is and the passphrase it was made with. Nothing there is changed."
        )
        self._form.setRowVisible(self.again, new)
        self._form.setRowVisible(self.meter, new)
        self.ok.setText("Start Backing Up" if new else "Connect")

    def _strength(self, text: str) -> None:
        self.meter.setText(strength(text) if text else "")

    def _pick(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to back up")
        if folder:
            self.folder.setText(folder)

    def finish(self) -> None:
        """Check what was typed, then create the backup (or connect to the one there), remember the
        passphrase and save the choices on a worker thread: deriving the key takes a second or more,
        and the dialog stays alive meanwhile. `settled` is emitted when that is over."""
        words = self.passphrase.text()
        problem = self.destination.problem() or self._passphrase_problem(words) or self.destination.store_keys()
        if problem:
            self.error.setText(problem)
            return
        folder = self.folder.text().strip()
        where, existing = self.destination.location(), self.existing.isChecked()
        self.ok.setEnabled(False)
        self._words = words  # kept for `_settle`, before the worker can finish
        self.error.setText("Opening the backup…" if existing else "Setting up your backup…")

        def work() -> None:
            try:
                set_up(where, words, (folder,) if folder else (), existing=existing)
            except Exception as e:  # noqa: BLE001 - said in the dialog
                self._done.emit(Problem.of(e))
            else:
                self._done.emit(None)

        threading.Thread(target=work, name="app-setup", daemon=True).start()

    def _settle(self, problem: Problem | None) -> None:
        self.ok.setEnabled(True)
        if problem is not None:
            self.error.setText(str(problem))
        else:
            self.error.setText("")
            self.passphrase_value = self._words
            if self.at_login.isChecked():
                loginitem.install()
            self.accept()
        self.settled.emit()

    def _passphrase_problem(self, words: str) -> str | None:
        if self.existing.isChecked():
            return None if words else "Enter the backup's passphrase."
        if is_weak(words):
            return strength(words)
        return None if words == self.again.text() else "The two passphrases differ."


def _default_folder() -> str:
    """Documents, where most of what people cannot replace lives; they can choose another."""
    documents = Path.home() / "Documents"
    return str(documents) if documents.is_dir() else ""
