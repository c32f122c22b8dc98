#!/usr/bin/env python3
"""Screenshots (PNG) of every page of the app and every step of the seed drive wizard, and of the
menu and the Status page in each of the four states a user meets (protected, backing up, paused,
needs attention).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [OUT_DIR]   (or under xvfb-run)
    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py --states docs/screenshots

Runs the real app against a real repository in a temporary installation, with a small folder
backed up once, and saves `status.png`, `settings.png`, … `wizard-1-intro.png`, … in OUT_DIR
(default: screenshots/).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _installation() -> tuple[Path, Path]:
    """A temporary installation with a small Documents folder: (work folder, source)."""
    work = Path(tempfile.mkdtemp(prefix="backbeat-shots-"))
    os.environ["BACKBEAT_HOME"] = str(work / "home")
    os.environ["BACKBEAT_PASSWORD"] = "screenshots are not secret"
    src = work / "Documents"
    (src / "Taxes").mkdir(parents=True)
    for i in range(12):
        (src / f"Letter {i}.txt").write_text("Dear friend,\n" * (200 + 40 * i))
    (src / "Taxes" / "2025.pdf").write_bytes(os.urandom(300_000))
    return work, src


class Shots:
    """The running app and where its pictures go."""

    def __init__(self, out: Path) -> None:
        from PySide6.QtWidgets import QApplication

        from app.icons import icon
        from app.main import start
        from app.window import STYLE
        from engine.config.settings import Settings, save_settings
        from engine.service import BackupService

        self.out = out
        self.work, src = _installation()
        self.app = QApplication(sys.argv[:1])
        self.app.setStyleSheet(STYLE)
        self.app.setWindowIcon(icon("backbeat"))
        service = BackupService(str(self.work / "repo"))
        service.init(os.environ["BACKBEAT_PASSWORD"])
        service.close()
        save_settings(Settings(folders=(str(src),), destination=str(self.work / "repo")))
        self.bridge, self.tray, self.window = start(self.app, os.environ["BACKBEAT_PASSWORD"])

    def settle(self, ms: int = 600) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def until(self, cond, timeout_ms: int = 20000) -> None:
        waited = 0
        while not cond() and waited < timeout_ms:
            self.settle(100)
            waited += 100

    def save(self, widget, name: str, ms: int = 500) -> None:
        self.settle(ms)
        widget.grab().save(str(self.out / f"{name}.png"))

    def pages(self) -> None:
        """Every page at the usual size, the smallest the window allows, and a large one."""
        from PySide6.QtCore import QSize

        done = []
        self.bridge.job_finished.connect(lambda kind, r: done.append(kind))
        self.bridge.backup_now()
        self.until(lambda: "backup" in done)
        window = self.window
        window.show()
        window.status.refresh()
        for size, suffix in ((window.size(), ""), (window.minimumSizeHint(), "-small"), (QSize(1280, 860), "-large")):
            window.resize(size)
            for name in ("Status", "Settings", "Restore", "Seed Drive", "Support"):
                window.show_page(name)
                self.save(window, name.lower().replace(" ", "-") + suffix, 700)
        window.resize(QSize(860, 600))

    def settings(self) -> None:
        from app.pages.settings import ScheduleEditor

        where = self.window.settings.destination
        where.kind.setCurrentIndex(2)
        where.endpoint.setText("https://s3.us-west-004.backblazeb2.com")
        where.bucket.setText("family-backup")
        self.window.show_page("Settings")
        self.save(self.window, "settings-s3")
        self.window.settings.load()
        editor = ScheduleEditor("Mon-Fri 08:00,512k 18:00,256k 23:00,off", self.window)
        editor.show()
        self.save(editor, "schedule-editor")
        editor.close()
        self.tray.menu.adjustSize()
        self.save(self.tray.menu, "tray-menu", 100)

    def wizard(self) -> None:
        wizard = self.window.open_wizard()
        self.save(wizard, "wizard-1-intro", 900)
        wizard.next()
        wizard.drive_page.set_drive(str(self.work))
        self.save(wizard, "wizard-2-drive", 300)
        wizard.next()
        self.until(lambda: wizard.export.done)
        self.save(wizard, "wizard-3-export", 300)
        wizard.next()
        self.until(lambda: wizard.verify.ok)
        self.save(wizard, "wizard-4-verify", 300)
        wizard.next()
        self.save(wizard, "wizard-5-next", 300)
        wizard.close()
        seed = self.window.seed
        self.window.show_page("Seed Drive")
        seed.check.click()
        self.until(lambda: "seed drive yet" in seed.checked.text())
        self.save(self.window, "seed-drive-on-its-way")

    def first_run(self) -> None:
        from app.setup import SetupDialog

        for existing in (False, True):
            setup = SetupDialog(self.window)
            setup.existing.setChecked(existing)
            setup.passphrase.setText("correct horse battery")
            setup.show()
            self.save(setup, "first-run-connect" if existing else "first-run-new")
            setup.close()

    def states(self) -> None:
        """The menu and the Status page as the user sees them in each state, from real jobs."""
        done = []
        self.bridge.job_finished.connect(lambda kind, r: done.append(kind))
        self.bridge.job_failed.connect(lambda kind, p: done.append(kind))
        window = self.window
        window.show()
        window.show_page("Status")

        def both(state: str) -> None:
            window.status.refresh()
            self.save(window, f"state-{state}-status", 700)
            self.tray.menu.adjustSize()
            self.save(self.tray.menu, f"state-{state}-menu", 100)

        self.bridge.backup_now()
        self.until(lambda: "backup" in done)
        both("protected")
        big = self.work / "Documents" / "Holiday.mov"
        big.write_bytes(os.urandom(400 << 20))  # long enough to be seen backing up
        done.clear()
        self.bridge.backup_now()
        self.until(lambda: self.tray.state == "busy" and "%" in self.tray.status_action.text(), 10000)
        both("backing-up")
        self.until(lambda: "backup" in done, 120000)
        self.bridge.pause(3600.0)
        self.until(lambda: self.tray.state == "paused", 5000)
        both("paused")
        self.bridge.resume()
        (self.work / "repo").rename(self.work / "unplugged")  # the backup drive is not there
        done.clear()
        self.bridge.backup_now()
        self.until(lambda: "backup" in done, 30000)
        both("needs-attention")
        (self.work / "unplugged").rename(self.work / "repo")

    def close(self) -> None:
        self.bridge.close()
        shutil.rmtree(self.work, ignore_errors=True)  # the temporary installation, pictures taken


def main() -> None:
    args = sys.argv[1:]
    states = "--states" in args
    args = [a for a in args if a != "--states"]
    out = Path(args[0] if args else ROOT / "screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    shots = Shots(out)
    if states:
        shots.states()
    else:
        shots.pages()
        shots.settings()
        shots.wizard()
        shots.first_run()
    shots.close()
    for png in sorted(out.glob("*.png")):
        sys.stdout.write(f"{png}\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
