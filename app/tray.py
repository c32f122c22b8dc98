"""The menu-bar (tray) icon and its menu: status line, Back up now, Pause / Resume, Open Backbeat…, Quit.

The menu is an ordinary QMenu, so it works (and is tested) where no system tray exists; the icon
shows the state: idle (protected), busy (backing up, restoring…), paused, needs attention. The
status line says only what is known: "Not backed up yet" until a backup has finished here,
"Protected — last backup 2 minutes ago" after, and what a running job is doing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.bridge import EngineBridge
from app.icons import menu_bar_icon
from engine.base.clock import SYSTEM_CLOCK
from engine.base.errors import Problem
from engine.base.home import app_dir
from engine.base.logs import log
from engine.base.units import format_ago, format_duration
from engine.config.settings import load_settings
from engine.service import access_problems
from engine.service.away import away_notice
from engine.service.controls import paused
from engine.service.seeding import seed_suggestion

__all__ = ["Tray"]

#: the status line while a job runs, by the bridge's name for it
_DOING = {
    "backup": "Backing up…",
    "restore": "Restoring…",
    "seed-export": "Writing the seed drive…",
    "seed-verify": "Checking the seed drive…",
    "seed load": "Uploading the seed drive…",
    "reconcile": "Checking what the seed drive delivered…",
    "support-bundle": "Gathering the support bundle…",
}


class Tray(QObject):
    open_window = Signal()
    quit_requested = Signal()

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.state = "idle"
        self.problem: str | None = None
        #: wall time of the last backup this app saw finish (None: none yet since it started)
        self.last_backup: float | None = None
        self.menu = QMenu()
        self.status_action = QAction("Not backed up yet", self.menu)
        self.status_action.setEnabled(False)
        self.backup_action = QAction("Back Up Now", self.menu)
        self.pause_action = QAction("Pause Backups", self.menu)
        self.stop_action = QAction("Stop This Backup", self.menu)
        self.stop_action.setVisible(False)
        self.pause_menu = QMenu("Pause Backups", self.menu)
        for text, seconds in (
            ("For 1 Hour", lambda: 3600.0),
            ("Until Tomorrow", _until_tomorrow),
            ("Until I Resume", lambda: None),
        ):
            action = self.pause_menu.addAction(text)
            action.triggered.connect(lambda _=False, s=seconds: self.bridge.pause(s()))
        self.pause_action.setMenu(self.pause_menu)
        self.open_action = QAction("Open Backbeat…", self.menu)
        self.quit_action = QAction("Quit Backbeat", self.menu)
        self.menu.addAction(self.status_action)
        self.menu.addSeparator()
        for a in (self.backup_action, self.stop_action, self.pause_action):
            self.menu.addAction(a)
        self.menu.addSeparator()
        self.menu.addAction(self.open_action)
        self.menu.addAction(self.quit_action)
        self.backup_action.triggered.connect(bridge.backup_now)
        self.stop_action.triggered.connect(bridge.stop_job)
        self.pause_action.triggered.connect(self._toggle_pause)
        #: problems already notified, so one that lasts is said once, not on every retry
        self._told: set[str] = set()
        #: a missing permission (Full Disk Access), a seed drive suggested: said again at the next start only
        self._told_once: set[str] = set()
        #: every notification given, newest last (what the user was told, as the log has it)
        self.said: list[tuple[str, str]] = []
        #: wall time of the first failed try since the destination was last reached (None: reached)
        self._away_since: float | None = None
        self.open_action.triggered.connect(self.open_window)
        self.quit_action.triggered.connect(self.quit_requested)
        self.icon: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.icon = QSystemTrayIcon(menu_bar_icon("idle"))
            self.icon.setContextMenu(self.menu)
            self.icon.setToolTip("Backbeat")
            self.icon.show()
        bridge.progress.connect(self._progress)
        bridge.job_started.connect(lambda kind: self._set("busy", _DOING.get(kind, "Working…")))
        bridge.job_finished.connect(self._finished)
        bridge.job_failed.connect(self._failed)
        bridge.status_changed.connect(self._status)

    def _toggle_pause(self) -> None:
        """The item itself: resume when paused, else pause until resumed (its submenu offers durations)."""
        if paused() is not None:
            self.bridge.resume()
        else:
            self.bridge.pause()

    def notify(self, title: str, text: str, problem: bool = False) -> bool:
        """A notification of the platform's own (through the tray icon), unless turned off in Settings."""
        if not load_settings().notify:
            return False
        log.info("notified: %s: %s", title, text)
        self.said.append((title, text))
        if self.icon is not None:
            kind = QSystemTrayIcon.Warning if problem else QSystemTrayIcon.Information
            self.icon.showMessage(title, text, kind, 10000)
        return True

    def _set(self, state: str, line: str) -> None:
        """The line may change every second ("2 minutes ago", a progress %); the icon is loaded
        only when the state changes."""
        if self.icon is not None and state != self.state:
            self.icon.setIcon(menu_bar_icon(state))
        self.state = state
        self.stop_action.setVisible(state == "busy" and self.bridge.backing_up)
        self.status_action.setText(line)
        if self.icon is not None:
            self.icon.setToolTip(f"Backbeat — {line}")

    def _progress(self, ev) -> None:
        if "seed" not in self._told_once and (suggestion := seed_suggestion(ev)) is not None:
            self._told_once.add("seed")  # once per start of the app
            self.notify("A seed drive would be faster", suggestion)
        if ev.bytes_total and self.state != "paused":
            pct = 100 * ev.bytes_done / ev.bytes_total
            left = f" — {format_duration(ev.eta_seconds)} left" if ev.eta_seconds else ""
            doing = "Writing the seed drive" if ev.job == "seed export" else "Backing up"
            self._set("busy", f"{doing}: {pct:.0f}%{left}")

    def _finished(self, kind: str, result) -> None:
        if kind != "backup":
            self._set("attention" if self.problem else "idle", self.problem or self._idle_line())
            return
        self.problem = None
        self._told.clear()
        self._away_since = None
        access = access_problems()
        for problem in access:  # said once per start of the app: the user must switch it on
            if problem.message not in self._told_once:
                self._told_once.add(problem.message)
                self.notify("Backbeat needs Full Disk Access", str(problem), problem=True)
        if not access and not _protected_before():  # never "protected" while a part cannot be read
            self.notify("Your files are protected", "Backbeat finished your first backup; it now follows every change.")
            _mark_protected()
        self.last_backup = SYSTEM_CLOCK.wall()
        if result.skipped:
            n = len(result.skipped)
            self.problem = f"The last backup left out {n} item{'' if n == 1 else 's'}: open Backbeat to see which"
            self._set("attention", self.problem)
        else:
            self._set("idle", self._idle_line())

    def _idle_line(self) -> str:
        if self.last_backup is None:
            return "Not backed up yet"
        return f"Protected — last backup {format_ago(SYSTEM_CLOCK.wall() - self.last_backup)}"

    def _failed(self, kind: str, problem: Problem) -> None:
        if problem.kind == "stopped":  # the user's own stop: said, not a problem to attend to
            self._set("idle", "Backup stopped by you" if kind == "backup" else self._idle_line())
            return
        if kind not in _DOING:
            return  # a page's question (a listing, a place typed in Settings): that page says it
        self.problem = str(problem)
        if kind == "backup" and problem.away:
            self._set("attention", "Can't reach your backup — trying again by itself")
            self._tell_if_away_too_long()
            return
        self._set("attention", problem.message[:80])
        if kind == "backup" and problem.message not in self._told:
            self._told.add(problem.message)
            self.notify("Backbeat needs your attention", str(problem), problem=True)

    def _tell_if_away_too_long(self) -> None:
        """Out of reach for an afternoon is normal (protection retries); for a day, the user is told, once."""
        now = SYSTEM_CLOCK.wall()
        if self._away_since is None:
            self._away_since = now
        if "away" in self._told:
            return
        text = away_notice(self.bridge.service.location, self.bridge.last_backed_up(), self._away_since, now)
        if text is not None:
            self._told.add("away")
            self.notify("Your files are not being backed up", text, problem=True)

    def _status(self, st: dict) -> None:
        paused = st["paused"]
        self.pause_action.setText("Resume Backups" if paused else "Pause Backups")
        self.pause_action.setMenu(None if paused else self.pause_menu)  # paused: the item resumes
        if paused:
            reason = st["bandwidth"].reason  # "paused by you until 14:00", "paused: the computer is on battery"
            self._set("paused", reason.replace("paused by you", "Paused").replace("paused:", "Paused:"))
        elif self.state == "paused":
            self._set("busy" if st["busy"] else "idle", "Backing up…" if st["busy"] else self._idle_line())
        elif self.state == "idle":
            self._set("idle", self._idle_line())  # "2 minutes ago" moves on


def _until_tomorrow() -> float:
    """Seconds until 6:00 tomorrow, local time."""
    now = datetime.now()
    tomorrow = datetime.combine(now.date() + timedelta(days=1), dt_time(6, 0))
    return (tomorrow - now).total_seconds()


def _flag() -> Path:
    return app_dir() / "first-backup-notified"


def _protected_before() -> bool:
    """The first-protection notification is said once per installation, not once per app start."""
    return _flag().exists()


def _mark_protected() -> None:
    _flag().touch()
