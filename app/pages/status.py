"""Status: per destination % backed up and what is left, the upload rate against the limit, the last problem."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton

from app.bridge import EngineBridge
from app.pages.common import Page, hint
from app.ratechart import RateChart
from engine.base.errors import Problem
from engine.base.progress import describe_upload
from engine.base.units import format_bytes, format_duration, format_rate, format_when
from engine.service import BackupService, access_problems, left_in_icloud

__all__ = ["StatusPage", "status_answer"]


def status_answer(service: BackupService) -> tuple:
    """The one shape of a "status" answer (the Status and Seed pages both listen for it): the
    destinations' overview, the last problem, what the system keeps Backbeat from reading."""
    return service.status(), service.last_problem(), access_problems()


class StatusPage(Page):
    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__("Status")
        self.bridge = bridge
        self.summary = QLabel("Checking…")
        self.summary.setWordWrap(True)
        self.summary.setObjectName("summary")
        self.layout_.addWidget(self.summary)
        # what the system keeps Backbeat from reading (Full Disk Access), until the user grants it
        self.access = hint("")
        self.access.setObjectName("problem")
        self.access.hide()
        self.layout_.addWidget(self.access)
        self.access_button = QPushButton("Open System Settings")
        self.access_button.hide()
        self.access_button.clicked.connect(self._open_access_settings)
        self.layout_.addWidget(self.access_button)
        self._access_link = ""
        self._running_row()
        self.destinations = QGridLayout()
        self.destinations.setHorizontalSpacing(16)
        box = QFrame()
        box.setObjectName("card")
        box.setLayout(self.destinations)
        self.layout_.addWidget(box)
        self.icloud = hint("")  # what the latest backup left in iCloud, and what to do
        self.icloud.setWordWrap(True)
        self.icloud.hide()
        self.layout_.addWidget(self.icloud)
        self.note = hint("")  # the run's latest word: a checkpoint, a skipped file, a wait for the network
        self.layout_.addWidget(self.note)
        self.rate = QLabel("")
        self.rate.setWordWrap(True)
        self.layout_.addWidget(self.rate)
        self.chart = RateChart()
        self.layout_.addWidget(self.chart)
        self.problem = hint("")
        self.problem.setObjectName("problem")
        self.problem.hide()
        self.layout_.addWidget(self.problem)
        self.layout_.addStretch(1)
        bridge.status_changed.connect(self._live)
        bridge.progress.connect(self._progress)
        bridge.job_finished.connect(self._finished)
        bridge.job_failed.connect(self._failed)
        bridge.answered.connect(self._answered)
        bridge.note.connect(self.note.setText)
        self.refresh()

    def _running_row(self) -> None:
        """The backup's progress, and its Stop, while one runs."""
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.stop = QPushButton("Stop")
        self.stop.setToolTip("Stop this backup; what was sent is kept, and the next backup carries on from there")
        self.stop.hide()
        self.stop.clicked.connect(self._stop)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.stop)
        self.layout_.addLayout(running)

    def refresh(self) -> None:
        self.bridge.ask("status", status_answer)

    def _answered(self, name: str, answer) -> None:
        if name != "status":
            return
        (latest, dests), problem, access = answer
        self._show_access(access)
        if not self.bridge.busy:
            if latest is None:
                self.summary.setText("No backup yet")
            elif latest.checkpoint:
                self.summary.setText(f"Backup interrupted; what was sent by {format_when(latest.time)} is safe")
            else:
                self.summary.setText(f"Last backup: {format_when(latest.time)}")
        while self.destinations.count():
            self.destinations.takeAt(0).widget().deleteLater()
        for row, d in enumerate(dests):
            left = d.selection_bytes - d.bytes_backed_up
            name = QLabel(d.location)
            name.setObjectName("destination")
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(int(d.percent * 10))
            bar.setFormat(f"{d.percent:.1f}% backed up")
            if d.seed_exported:
                when = format_when(datetime.fromtimestamp(d.seed_exported))
                state = f"the seed drive is on its way: your folders as of {when} ({format_bytes(d.seed_bytes)})"
            elif d.snapshot_id is None:
                state = "nothing backed up yet"
            else:
                # the latest snapshot's selection is all there; a backup under way may be sending more
                busy = "backing up what changed" if self.bridge.backing_up else "up to date"
                state = f"{format_bytes(left)} left" if left > 0 else busy
            self.destinations.addWidget(name, row, 0)
            self.destinations.addWidget(bar, row, 1)
            self.destinations.addWidget(QLabel(state), row, 2)
        icloud = left_in_icloud(latest)
        self.icloud.setVisible(bool(icloud))
        self.icloud.setText(icloud or "")
        self._show_problem(problem)

    def _show_access(self, problems: list[Problem]) -> None:
        first = problems[0] if problems else None
        self.access.setVisible(first is not None)
        self.access_button.setVisible(bool(first and first.link))
        if first is not None:
            self.access.setText(f"<b>{first.message}</b><br>{first.hint}")
            self._access_link = first.link

    def _open_access_settings(self) -> None:
        QDesktopServices.openUrl(QUrl(self._access_link))

    def _show_problem(self, problem: str | None) -> None:
        self.problem.setVisible(bool(problem))
        if problem:
            what, _, todo = problem.partition(" — ")
            self.problem.setText(f"<b>Last problem:</b> {what}<br>{todo or ''}".replace("\n", "<br>"))

    def _live(self, st: dict) -> None:
        bw = st["bandwidth"]
        self.chart.add(bw.upload_rate, bw.limit)
        if bw.line and bw.upload_rate:  # the automatic limit at work: what it leaves the household
            self.rate.setText(
                f"Keeping your internet usable: using {format_rate(bw.upload_rate)} of about {format_rate(bw.line)}."
            )
            return
        speed = f"Uploading at {format_rate(bw.upload_rate)}. " if bw.upload_rate else ""
        now = bw.reason.removeprefix("automatic: ")  # the policy already says automatic
        self.rate.setText(f"{speed}Upload speed: {bw.policy}. Right now: {now}.")

    def _stop(self) -> None:
        if self.bridge.stop_job():
            self.stop.setEnabled(False)
            self.summary.setText("Stopping…")

    def _progress(self, ev) -> None:
        if ev.bytes_total and not ev.job:  # the destination's own backup (a seed export shows in its wizard)
            self.progress.show()
            self.stop.setVisible(self.bridge.backing_up)
            self.progress.setValue(int(1000 * ev.bytes_done / ev.bytes_total))
            eta = f", {format_duration(ev.eta_seconds)} left" if ev.eta_seconds else ""
            self.summary.setText(
                f"Uploading: {describe_upload(ev)}"
                if ev.phase == "uploading"
                else f"Backing up: {100 * ev.bytes_done / ev.bytes_total:.0f}% "
                f"({format_bytes(ev.bytes_done)} of {format_bytes(ev.bytes_total)}{eta})"
            )

    def _finished(self, kind: str, _result) -> None:
        self._running_ended()
        self.note.setText("")
        self._show_problem(None)
        self.refresh()

    def _failed(self, kind: str, problem: Problem) -> None:
        self._running_ended()
        if problem.kind == "stopped":  # the user's own stop: said as what happens next, not as a problem
            if kind == "backup":
                self.summary.setText(f"Stopped. {problem.hint}")
            return
        self._show_problem(str(problem))

    def _running_ended(self) -> None:
        self.progress.hide()
        self.stop.hide()
        self.stop.setEnabled(True)
