"""`backbeat-app`: the menu-bar app. Without a system tray (some Linux desktops) the window opens instead."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QSystemTrayIcon

from app import loginitem
from app.bridge import EngineBridge
from app.icons import icon
from app.setup import SetupDialog
from app.single import SingleInstance
from app.tray import Tray
from app.window import STYLE, MainWindow
from engine.base.errors import BackbeatError, RepositoryNotFound
from engine.base.logs import setup_logging
from engine.base.memory import tune_allocator
from engine.service import BackupService
from engine.service.setup import remembered_passphrase

__all__ = ["main", "start"]


def _passphrase() -> str | None:
    """From the keychain (or BACKBEAT_PASSWORD); the first run sets up a backup; else ask. Works
    with the destination out of reach (a laptop at login before its Wi-Fi): the repository is
    the one this computer last saw there."""
    service = BackupService()
    try:
        try:
            repo_id: str | None = service.repository_id()
        except RepositoryNotFound:
            setup = SetupDialog()
            return setup.passphrase_value if setup.exec() else None
        except BackbeatError:
            repo_id = None  # out of reach and never seen from here: the passphrase is asked for
        found = remembered_passphrase(repo_id) if repo_id else None
        if found is not None:
            return found
        text, ok = QInputDialog.getText(None, "Backbeat", "Passphrase of your backup:", QLineEdit.Password)
        return text if ok else None
    finally:
        service.close()


def start(app: QApplication, passphrase: str, protect: bool = True) -> tuple[EngineBridge, Tray, MainWindow]:
    """The app up: tray, window and, with `protect`, continuous protection of the chosen folders."""
    bridge = EngineBridge(passphrase)
    tray = Tray(bridge)
    window = MainWindow(bridge)
    if protect:
        bridge.start_protection()

    tray.open_window.connect(window.show_in_front)
    tray.quit_requested.connect(app.quit)
    app.aboutToQuit.connect(bridge.close)
    if not QSystemTrayIcon.isSystemTrayAvailable():
        window.show_in_front()
    return bridge, tray, window


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv
    if "--install-login-item" in args or "--remove-login-item" in args:
        said = loginitem.install() if "--install-login-item" in args else loginitem.remove()
        sys.stdout.write(said + "\n")
        return 0
    tune_allocator()
    setup_logging()
    app = QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Backbeat")
    app.setQuitOnLastWindowClosed(False)
    app.setStyleSheet(STYLE)
    app.setWindowIcon(icon("backbeat"))
    single = SingleInstance()
    if not single.first:
        return 0  # the copy already running shows its window
    passphrase = _passphrase()
    if passphrase is None:
        return 0
    parts = start(app, passphrase)
    single.activated.connect(parts[2].show_in_front)
    app.aboutToQuit.connect(single.release)
    if "--startup-time" in (argv or sys.argv):  # bench/app_startup.py: up and drawn, then gone
        QTimer.singleShot(0, lambda: (sys.stdout.write("ready\n"), sys.stdout.flush(), app.quit()))
    code = app.exec()
    del parts
    return code


if __name__ == "__main__":
    sys.exit(main())
