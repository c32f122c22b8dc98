"""Where backups go, in the user's words: a folder or drive, Amazon S3, or another S3 service, with the
fields each needs. The first-run dialog and the Settings page share it, so both speak the same way."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QWidget

from engine.config.destination import is_s3, parse_s3, s3_location
from engine.service.setup import save_s3_keys

__all__ = ["DestinationForm"]

_KINDS = ["A folder or drive", "Amazon S3", "Another S3 service (Backblaze B2, Wasabi, MinIO…)"]


class DestinationForm:
    """Adds its rows to a QFormLayout and shows only those the chosen kind needs."""

    def __init__(self, form: QFormLayout, parent: QWidget, folder_hint: str) -> None:
        self._form = form
        self.kind = QComboBox()
        self.kind.addItems(_KINDS)
        form.addRow("Back up to:", self.kind)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText(folder_hint)
        choose = QPushButton("Choose…")
        choose.clicked.connect(lambda: self._pick(parent))
        row = QHBoxLayout()
        row.addWidget(self.folder)
        row.addWidget(choose)
        self._folder_row = QWidget()
        self._folder_row.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Folder:", self._folder_row)
        self.endpoint = QLineEdit()
        self.endpoint.setPlaceholderText("https://s3.example.com")
        self.bucket = QLineEdit()
        self.prefix = QLineEdit()
        self.prefix.setPlaceholderText("optional: a folder inside the bucket")
        self.access_key = QLineEdit()
        self.access_key.setPlaceholderText("kept in your keychain, never in a file")
        self.secret_key = QLineEdit()
        self.secret_key.setEchoMode(QLineEdit.Password)
        for label, field in (
            ("Service address:", self.endpoint),
            ("Bucket:", self.bucket),
            ("Inside the bucket:", self.prefix),
            ("Access key:", self.access_key),
            ("Secret key:", self.secret_key),
        ):
            form.addRow(label, field)
        self.kind.currentIndexChanged.connect(self._show_fields)
        self._show_fields()

    def _pick(self, parent: QWidget) -> None:
        folder = QFileDialog.getExistingDirectory(parent, "Choose where to keep the backup")
        if folder:
            self.folder.setText(folder)

    def _show_fields(self) -> None:
        kind = self.kind.currentIndex()
        for widget, shown in (
            (self._folder_row, kind == 0),
            (self.endpoint, kind == 2),
            (self.bucket, kind > 0),
            (self.prefix, kind > 0),
            (self.access_key, kind > 0),
            (self.secret_key, kind > 0),
        ):
            self._form.setRowVisible(widget, shown)

    def load(self, location: str | None) -> None:
        where = location or ""
        if is_s3(where):
            parts = parse_s3(where)
            self.kind.setCurrentIndex(2 if parts.endpoint else 1)
            self.endpoint.setText(parts.endpoint or "")
            self.bucket.setText(parts.bucket)
            self.prefix.setText(parts.prefix)
        else:
            self.kind.setCurrentIndex(0)
            self.folder.setText(where)
        self._show_fields()

    def location(self) -> str | None:
        """The LOCATION the fields describe (None: the embedded repository)."""
        if self.kind.currentIndex() == 0:
            return self.folder.text().strip() or None
        endpoint = self.endpoint.text().strip() if self.kind.currentIndex() == 2 else None
        return s3_location(self.bucket.text().strip(), self.prefix.text().strip(), endpoint or None)

    def problem(self) -> str | None:
        """What is missing, in plain words; None when the fields describe a place."""
        if self.kind.currentIndex() == 0:
            return None
        if not self.bucket.text().strip():
            return "Enter the bucket's name."
        if self.kind.currentIndex() == 2 and not self.endpoint.text().strip():
            return "Enter the service's address (your provider's documentation gives it)."
        return None

    def store_keys(self) -> str | None:
        """Put typed keys in the keychain (the secret field is then cleared); the problem in words, or None."""
        key, secret = self.access_key.text().strip(), self.secret_key.text()
        if not (key and secret):
            return None
        if self.kind.currentIndex() == 0:
            return "Keys are only for an S3 destination."
        if not save_s3_keys(self.location() or "", key, secret):
            return (
                "This computer has no keychain to keep the keys in: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY for Backbeat instead."
            )
        self.secret_key.clear()
        return None
