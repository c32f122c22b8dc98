#!/usr/bin/env python3
"""Screenshots (PNG) of every page of the app and every step of the seed drive wizard.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [OUT_DIR]   (or under xvfb-run)

Runs the real app against a real repository in a temporary installation, with a small folder
backed up once, and saves `status.png`, `settings.png`, … `wizard-1-intro.png`, … in OUT_DIR
(default: screenshots/).
"""

from __future__ import annotations

import os
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


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    work, src = _installation()

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.icons import icon
    from app.main import start
    from app.window import STYLE
    from engine.service import BackupService
    from engine.settings import Settings

    app = QApplication(sys.argv[:1])
    app.setStyleSheet(STYLE)
    app.setWindowIcon(icon("backbeat"))
    service = BackupService(str(work / "repo"))
    service.init(os.environ["BACKBEAT_PASSWORD"])
    service.close()
    BackupService.save_settings(Settings(folders=(str(src),), destination=str(work / "repo")))
    bridge, tray, window = start(app, os.environ["BACKBEAT_PASSWORD"])

    def settle(ms: int = 600) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def until(cond, timeout_ms: int = 20000) -> None:
        waited = 0
        while not cond() and waited < timeout_ms:
            settle(100)
            waited += 100

    done = []
    bridge.job_finished.connect(lambda kind, r: done.append(kind))
    bridge.backup_now()
    until(lambda: "backup" in done)
    window.show()
    window.status.refresh()
    for name in ("Status", "Settings", "Restore", "Seed Drive", "Support"):
        window.show_page(name)
        settle(900)
        window.grab().save(str(out / f"{name.lower().replace(' ', '-')}.png"))
    tray.menu.adjustSize()
    tray.menu.grab().save(str(out / "tray-menu.png"))
    _wizard(window, work, out, settle, until)
    bridge.close()
    for png in sorted(out.glob("*.png")):
        sys.stdout.write(f"{png}\n")


def _wizard(window, work: Path, out: Path, settle, until) -> None:
    wizard = window.open_wizard()
    settle(900)
    wizard.grab().save(str(out / "wizard-1-intro.png"))
    wizard.next()
    wizard.drive_page.set_drive(str(work))
    settle(300)
    wizard.grab().save(str(out / "wizard-2-drive.png"))
    wizard.next()
    until(lambda: wizard.export.done)
    settle(300)
    wizard.grab().save(str(out / "wizard-3-export.png"))
    wizard.next()
    until(lambda: wizard.verify.ok)
    settle(300)
    wizard.grab().save(str(out / "wizard-4-verify.png"))
    wizard.next()
    settle(300)
    wizard.grab().save(str(out / "wizard-5-next.png"))


if __name__ == "__main__":
    main()
