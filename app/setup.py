"""First run: a passphrase (with a strength hint and the warning that nobody can recover it), where to back
up, and what; or connect to a backup that exists."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.pages.common import heading, hint
from engine.service import BackupService
from engine.settings import Settings

__all__ = ["SetupDialog", "strength"]


def strength(passphrase: str) -> str:
    """A plain-words hint: length matters most for a passphrase."""
    words = len(passphrase.split())
    if len(passphrase) < 10:
        return "Too short: use at least four words, or 12 characters."
    if len(passphrase) < 16 and words < 3:
        return "Fair. A few more words would make it much stronger."
    return "Strong."


class SetupDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Backbeat")
        self.passphrase_value: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.addWidget(heading("Set up your backup"))
        layout.addWidget(
            hint(
                "Everything Backbeat stores is encrypted with your passphrase. Nobody can recover it for you, "
                "not even Backbeat: write it down somewhere safe. To connect to a backup you already have, "
                "enter its place and its passphrase."
            )
        )
        form = QFormLayout()
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.Password)
        self.again = QLineEdit()
        self.again.setEchoMode(QLineEdit.Password)
        self.meter = QLabel("")
        self.passphrase.textChanged.connect(lambda t: self.meter.setText(strength(t)))
        form.addRow("Passphrase:", self.passphrase)
        form.addRow("Again:", self.again)
        form.addRow("", self.meter)
        self.destination = self._folder_row(form, "Back up to:")
        self.destination.setPlaceholderText("a folder or drive, or s3://bucket/prefix")
        self.folder = self._folder_row(form, "Back up this folder:")
        layout.addLayout(form)
        self.error = hint("")
        self.error.setObjectName("problem")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Start Backing Up")
        buttons.accepted.connect(self.finish)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _folder_row(self, form: QFormLayout, label: str) -> QLineEdit:
        field, pick, row = QLineEdit(), QPushButton("Choose…"), QHBoxLayout()
        pick.clicked.connect(lambda: self._pick(field))
        row.addWidget(field)
        row.addWidget(pick)
        form.addRow(label, row)
        return field

    def _pick(self, field: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder")
        if folder:
            field.setText(folder)

    def finish(self) -> None:
        """Create the repository (or connect to the one there), save the settings, remember the passphrase."""
        words, where = self.passphrase.text(), self.destination.text().strip() or None
        service = BackupService(where)
        try:
            if service.backend.exists():
                service.unlock(words)  # an existing backup: the passphrase must open it
            else:
                if words != self.again.text():
                    self.error.setText("The two passphrases differ.")
                    return
                if len(words) < 10:
                    self.error.setText(strength(words))
                    return
                service.init(words)
            service.remember_passphrase(words)
            folders = (self.folder.text().strip(),) if self.folder.text().strip() else ()
            BackupService.save_settings(Settings(folders=folders, destination=where))
        except Exception as e:  # noqa: BLE001 - said in the dialog
            self.error.setText(f"{e}\n{getattr(e, 'hint', '') or ''}")
            return
        finally:
            service.close()
        self.passphrase_value = words
        self.accept()
