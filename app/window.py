"""The main window: a sidebar of pages. Closing it keeps Backbeat running in the menu bar."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QListWidget, QMainWindow, QScrollArea, QStackedWidget, QWidget

from app.bridge import EngineBridge
from app.icons import icon
from app.pages.restore import RestorePage
from app.pages.seed import SeedPage
from app.pages.settings import SettingsPage
from app.pages.status import StatusPage
from app.pages.support import SupportPage
from app.wizard import SeedWizard

__all__ = ["MainWindow", "STYLE"]

STYLE = """
QWidget { font-size: 13px; }
#sidebar { background: #eef1f5; border: none; padding-top: 12px; outline: 0; }
#sidebar::item { padding: 8px 14px; border-radius: 6px; margin: 2px 8px; color: #1f2937; }
#sidebar::item:selected { background: #2f7de1; color: white; }
#title { font-size: 22px; font-weight: 600; color: #111827; }
#heading { font-size: 15px; font-weight: 600; color: #111827; }
#summary { font-size: 15px; color: #111827; }
#hint { color: #4b5563; }
#problem { color: #b45309; }
#card { background: #f8fafc; border: 1px solid #e5e7eb; border-radius: 10px; padding: 10px; }
#destination { font-weight: 600; }
QProgressBar { border: 1px solid #d1d5db; border-radius: 5px; background: #f3f4f6; height: 14px; text-align: center; }
QProgressBar::chunk { background: #2f7de1; border-radius: 4px; }
QPushButton { padding: 5px 14px; }
"""


class MainWindow(QMainWindow):
    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.setWindowTitle("Backbeat")
        self.setWindowIcon(icon("backbeat"))
        self.resize(QSize(860, 600))
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(170)
        self.stack = QStackedWidget()
        self.status = StatusPage(bridge)
        self.settings = SettingsPage(bridge)
        self.restore = RestorePage(bridge)
        self.seed = SeedPage(bridge, self.open_wizard)
        self.support = SupportPage(bridge)
        for name, page in (
            ("Status", self.status),
            ("Settings", self.settings),
            ("Restore", self.restore),
            ("Seed Drive", self.seed),
            ("Support", self.support),
        ):
            self.sidebar.addItem(name)
            self.stack.addWidget(_scrolling(page))
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.sidebar.setCurrentRow(0)
        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(body)
        self.wizard: SeedWizard | None = None

    def show_in_front(self) -> None:
        """Asked for from the menu, or by a second start of the app."""
        self.show()
        self.raise_()
        self.activateWindow()

    def show_page(self, name: str) -> None:
        names = [self.sidebar.item(i).text() for i in range(self.sidebar.count())]
        self.sidebar.setCurrentRow(names.index(name))

    def open_wizard(self) -> SeedWizard:
        self.wizard = SeedWizard(self.bridge, self)
        self.wizard.show()
        return self.wizard

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        event.ignore()
        self.hide()  # Backbeat lives on in the menu bar


def _scrolling(page: QWidget) -> QScrollArea:
    """A page scrolls rather than squash its rows or force the window taller than a 1280x800
    laptop screen (Settings asked for 893x887)."""
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # long lines wrap; only height scrolls
    return area
