"""Settings: folders and exclusions, the destination, upload speed in plain words, when uploads
pause (battery, metered networks, Wi-Fi networks the user names), versions kept."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.bridge import EngineBridge
from app.destination import DestinationForm
from app.pages.common import Page, heading, hint
from engine.base.errors import BadSchedule, Problem
from engine.config.bandwidth import (
    SCHEDULE_DAYS,
    BandwidthPolicy,
    ScheduleRow,
    parse_policy,
    schedule_rows,
    schedule_text,
)
from engine.config.settings import Settings, load_settings
from engine.platform import current as platform
from engine.service.setup import Connection

__all__ = ["SettingsPage", "ScheduleEditor"]


class ScheduleEditor(QDialog):
    """A weekly schedule as rows (days, from, speed) that writes rclone's timetable text."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Upload schedule")
        layout = QVBoxLayout(self)
        layout.addWidget(hint("From each time on, uploads go at most at that speed, until the next row."))
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Days", "From", "Speed (KB/s, 0 = unlimited)"])
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table)
        buttons = QHBoxLayout()
        add, remove = QPushButton("Add row"), QPushButton("Remove row")
        add.clicked.connect(lambda: self.add_row("Mon-Fri", QTime(8, 0), 512))
        remove.clicked.connect(lambda: self.table.removeRow(max(0, self.table.currentRow())))
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        box = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout.addWidget(box)
        self._load(text)

    def add_row(self, days: str, when: QTime, kbs: int) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        combo = QComboBox()
        combo.addItems(SCHEDULE_DAYS)
        if days not in SCHEDULE_DAYS:
            combo.addItem(days)  # a range typed elsewhere ("Fri-Mon") is kept as it is
        combo.setCurrentText(days)
        clock = QTimeEdit(when)
        clock.setDisplayFormat("HH:mm")
        speed = QSpinBox()
        speed.setRange(0, 1_000_000)
        speed.setValue(kbs)
        for col, w in enumerate((combo, clock, speed)):
            self.table.setCellWidget(row, col, w)

    def _load(self, text: str) -> None:
        for row in schedule_rows(text or ""):
            self.add_row(row.days, QTime(row.hour, row.minute), 0 if row.rate is None else round(row.rate / 1024))
        if self.table.rowCount() == 0:
            self.add_row("Mon-Fri", QTime(8, 0), 512)
            self.add_row("Mon-Fri", QTime(23, 0), 0)

    def text(self) -> str:
        rows = []
        for row in range(self.table.rowCount()):
            when = self.table.cellWidget(row, 1).time()
            kbs = self.table.cellWidget(row, 2).value()
            days = self.table.cellWidget(row, 0).currentText()
            rows.append(ScheduleRow(days, when.hour(), when.minute(), kbs * 1024 if kbs else None))
        return schedule_text(rows)


class SettingsPage(Page):
    #: a new destination answered and the page saved it, or said why not
    destination_settled = Signal()

    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__("Settings")
        self.bridge = bridge
        self._what_section()
        self._speed_section()
        self._versions_section()
        self.error = hint("")
        self.error.setObjectName("problem")
        self.layout_.addWidget(self.error)
        self.outcome = hint("")
        self.layout_.addWidget(self.outcome)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self._pending: Settings | None = None  # saved once its new destination answers
        self._new_keys = False  # ... with keys typed for it: the engine takes them up then
        bridge.destination_checked.connect(self._checked)
        end = QHBoxLayout()
        end.addStretch(1)
        end.addWidget(self.save_button)
        self.layout_.addLayout(end)
        self.layout_.addStretch(1)
        self.load()

    def _what_section(self) -> None:
        self.layout_.addWidget(heading("What to back up"))
        self.folders = QListWidget()
        self.folders.setMaximumHeight(110)
        self.layout_.addWidget(self.folders)
        row = QHBoxLayout()
        add, remove = QPushButton("Add Folder…"), QPushButton("Remove")
        add.clicked.connect(self._add_folder)
        remove.clicked.connect(lambda: self.folders.takeItem(self.folders.currentRow()))
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        self.layout_.addLayout(row)
        form = QFormLayout()
        self.excludes = QLineEdit()
        self.excludes.setPlaceholderText("*.iso, node_modules, ~/Downloads")
        form.addRow("Leave out:", self.excludes)
        self.icloud = QCheckBox(
            "Download files that are only in iCloud to back them up, then free their space again "
            "(never on a metered network)"
        )
        form.addRow(self.icloud)
        self.icloud.setVisible(platform().cloud_placeholders)  # a Mac's question only
        self.destination = DestinationForm(form, self, "empty: Backbeat's folder on this computer")
        self.layout_.addLayout(form)

    def _speed_section(self) -> None:
        self.layout_.addWidget(heading("Upload speed"))
        self.speed = QButtonGroup(self)
        self.automatic = QRadioButton("Keep my internet usable (automatic)")
        self.unlimited = QRadioButton("Unlimited")
        self.fixed = QRadioButton("Limit to")
        self.scheduled = QRadioButton("Follow a schedule")
        self.fixed_kbs = QSpinBox()
        self.fixed_kbs.setRange(8, 1_000_000)
        self.fixed_kbs.setSuffix(" KB/s")
        self.schedule_text = ""
        self.schedule_button = QPushButton("Schedule…")
        self.schedule_button.clicked.connect(self._edit_schedule)
        for i, b in enumerate((self.automatic, self.unlimited, self.fixed, self.scheduled)):
            self.speed.addButton(b, i)
        self.layout_.addWidget(self.automatic)
        self.layout_.addWidget(self.unlimited)
        fixed_row = QHBoxLayout()
        fixed_row.addWidget(self.fixed)
        fixed_row.addWidget(self.fixed_kbs)
        fixed_row.addStretch(1)
        self.layout_.addLayout(fixed_row)
        sched_row = QHBoxLayout()
        sched_row.addWidget(self.scheduled)
        sched_row.addWidget(self.schedule_button)
        sched_row.addStretch(1)
        self.layout_.addLayout(sched_row)
        self.battery = QCheckBox("Pause uploads while the computer runs on battery or in Low Power Mode")
        self.layout_.addWidget(self.battery)
        self.metered = QCheckBox("Pause uploads on a phone's hotspot and other metered networks")
        self.layout_.addWidget(self.metered)
        self._wifi_section()
        self.notify = QCheckBox("Tell me when my first backup is complete, and when something needs me")
        self.layout_.addWidget(self.notify)

    def _wifi_section(self) -> None:
        self.layout_.addWidget(hint("Never upload on these Wi-Fi networks:"))
        self.wifi = QListWidget()
        self.wifi.setMaximumHeight(70)
        self.layout_.addWidget(self.wifi)
        row = QHBoxLayout()
        self.wifi_typed = QLineEdit()
        self.wifi_typed.setPlaceholderText("a network's name")
        self.wifi_typed.returnPressed.connect(self._add_typed_wifi)
        add, self.wifi_here, self.wifi_remove = (
            QPushButton("Add"),
            QPushButton("Add This Network"),
            QPushButton("Remove"),
        )
        add.clicked.connect(self._add_typed_wifi)
        self.wifi_here.clicked.connect(self._add_this_wifi)
        self.wifi_remove.clicked.connect(lambda: self.wifi.takeItem(self.wifi.currentRow()))
        for w in (self.wifi_typed, add, self.wifi_here, self.wifi_remove):
            row.addWidget(w)
        self.layout_.addLayout(row)
        self.wifi_note = hint("")
        self.wifi_note.setWordWrap(True)
        self.layout_.addWidget(self.wifi_note)

    def _add_wifi(self, name: str) -> None:
        if name and not self.wifi.findItems(name, Qt.MatchExactly):
            self.wifi.addItem(name)

    def _add_typed_wifi(self) -> None:
        self._add_wifi(self.wifi_typed.text().strip())
        self.wifi_typed.clear()

    def _add_this_wifi(self) -> None:
        system = platform()
        name = system.wifi_name()
        if name is None:
            system.allow_wifi_name()
            why = system.WIFI_NAME_HIDDEN or "type its name instead"
            self.wifi_note.setText(f"This computer is not on a Wi-Fi network, or does not say its name: {why}.")
            return
        self.wifi_note.setText("")
        self._add_wifi(name)

    def _versions_section(self) -> None:
        self.layout_.addWidget(heading("Versions kept"))
        self.versions = hint("")
        self.versions.setWordWrap(True)
        self.layout_.addWidget(self.versions)
        form = QFormLayout()
        self.deleted_days = QSpinBox()
        self.deleted_days.setRange(0, 3650)
        self.deleted_days.setSuffix(" days")
        form.addRow("Keep deleted files for:", self.deleted_days)
        self.cleanup_days = QSpinBox()
        self.cleanup_days.setRange(0, 365)
        self.cleanup_days.setSuffix(" days")
        self.cleanup_days.setSpecialValueText("never by itself")
        form.addRow("Free up space every:", self.cleanup_days)
        self.layout_.addLayout(form)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to back up")
        if folder:
            self.folders.addItem(folder)

    def _edit_schedule(self) -> None:
        editor = ScheduleEditor(self.schedule_text, self)
        if editor.exec():
            self.schedule_text = editor.text()
            self.scheduled.setChecked(True)

    def load(self) -> None:
        s = load_settings()
        self.folders.clear()
        self.folders.addItems(list(s.folders))
        self.excludes.setText(", ".join(s.excludes))
        self.destination.load(s.destination)
        policy = s.bandwidth
        button = {"automatic": self.automatic, "unlimited": self.unlimited, "fixed": self.fixed}.get(
            policy.mode, self.scheduled
        )
        button.setChecked(True)
        self.fixed_kbs.setValue(int((policy.rate or 512 * 1024) // 1024))
        self.schedule_text = policy.schedule or ""
        self.battery.setChecked(s.pause_on_battery)
        self.metered.setChecked(s.pause_on_metered)
        self.icloud.setChecked(s.download_from_icloud)
        self.wifi.clear()
        self.wifi.addItems(list(s.never_upload_on_wifi))
        self.notify.setChecked(s.notify)
        self.versions.setText(s.retention.describe())
        self.deleted_days.setValue(s.retention.deleted_days)
        self.cleanup_days.setValue(round(s.prune.every_days))

    def policy(self) -> BandwidthPolicy:
        if self.unlimited.isChecked():
            return BandwidthPolicy("unlimited")
        if self.fixed.isChecked():
            return BandwidthPolicy("fixed", self.fixed_kbs.value() * 1024.0)
        if self.scheduled.isChecked():
            return parse_policy(self.schedule_text)  # refused with the bad entry named
        return BandwidthPolicy("automatic")

    def save(self) -> bool:
        """Save what the page shows. A new destination (or new keys for it) is first reached and
        opened off the GUI thread, and saved only once it answers (`destination_settled`); False:
        refused, and the page says why."""
        try:
            policy = self.policy()
        except BadSchedule as e:
            self.error.setText(f"{e}\n{e.hint}")
            return False
        self.error.setText("")
        self.outcome.setText("")
        keys_typed = bool(self.destination.secret_key.text())
        problem = self.destination.problem() or self.destination.store_keys()
        if problem:
            self.error.setText(problem)
            return False
        new = self._chosen(policy)
        if new.destination == load_settings().destination and not keys_typed:
            self._apply(new)
            return True
        if self.bridge.busy:
            self.error.setText("A backup or restore is under way: stop it or let it finish, then Save again.")
            return False
        self._pending, self._new_keys = new, keys_typed
        self.save_button.setEnabled(False)
        self.outcome.setText("Checking the destination…")
        self.bridge.check_destination(new.destination)
        return True

    def _chosen(self, policy: BandwidthPolicy) -> Settings:
        old = load_settings()
        return replace(
            old,
            retention=replace(old.retention, deleted_days=self.deleted_days.value()),
            prune=replace(old.prune, every_days=float(self.cleanup_days.value())),
            bandwidth=policy,
            pause_on_battery=self.battery.isChecked(),
            pause_on_metered=self.metered.isChecked(),
            download_from_icloud=self.icloud.isChecked(),
            never_upload_on_wifi=tuple(self.wifi.item(i).text() for i in range(self.wifi.count())),
            notify=self.notify.isChecked(),
            folders=tuple(self.folders.item(i).text() for i in range(self.folders.count())),
            excludes=tuple(x.strip() for x in self.excludes.text().split(",") if x.strip()),
            destination=self.destination.location(),
        )

    def _apply(self, new: Settings, new_keys: bool = False) -> None:
        self.bridge.save_settings(new, reconnect=new_keys)
        self.versions.setText(new.retention.describe())

    def _checked(self, connection: Connection | None, problem: Problem | None) -> None:
        """The new destination answered: saved when the backup there opened (or was started)."""
        self.save_button.setEnabled(True)
        new, self._pending = self._pending, None
        if new is None:
            return
        if problem is not None:
            self.outcome.setText("")
            self.error.setText(f"Not saved: {problem}")
        else:
            self._apply(new, self._new_keys)
            self.outcome.setText(
                "Saved. A new backup was started there; the first backup sends everything."
                if connection.created
                else "Saved. Backups carry on into the backup that is there."
            )
        self.destination_settled.emit()
