"""Small layout helpers shared by the pages, so they look alike."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

__all__ = ["Page", "heading", "hint", "title"]


def title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("title")
    return label


def heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("heading")
    label.setContentsMargins(0, 8, 0, 0)  # a style-sheet padding would also shift it sideways
    return label


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


class Page(QWidget):
    def __init__(self, name: str, intro: str = "") -> None:
        super().__init__()
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(28, 24, 28, 24)
        self.layout_.setSpacing(12)
        self.layout_.addWidget(title(name))
        if intro:
            self.layout_.addWidget(hint(intro))
