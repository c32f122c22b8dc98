"""A small painted chart: upload rate over the last hour against the limit in force."""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget

from engine.base.clock import SYSTEM_CLOCK
from engine.base.units import format_rate

__all__ = ["RateChart"]

_SPAN = 3600.0


class RateChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.samples: deque[tuple[float, float, float | None]] = deque()  # (time, rate, limit)
        self.setMinimumHeight(140)

    def add(self, rate: float, limit: float | None, when: float | None = None) -> None:
        now = SYSTEM_CLOCK.monotonic() if when is None else when
        self.samples.append((now, rate, limit if limit else None))
        while self.samples and now - self.samples[0][0] > _SPAN:
            self.samples.popleft()
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        r = QRectF(self.rect()).adjusted(8, 8, -8, -22)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor("#f4f6f9"))
        p.drawRoundedRect(QRectF(self.rect()).adjusted(0, 0, -1, -1), 10, 10)
        top = max([s[1] for s in self.samples] + [s[2] or 0 for s in self.samples] + [1.0]) * 1.15
        now = self.samples[-1][0] if self.samples else SYSTEM_CLOCK.monotonic()

        def point(t: float, v: float) -> QPointF:
            return QPointF(r.left() + r.width() * (1 - (now - t) / _SPAN), r.bottom() - r.height() * v / top)

        if self.samples:
            path = QPainterPath(point(self.samples[0][0], 0))
            for t, v, _ in self.samples:
                path.lineTo(point(t, v))
            path.lineTo(point(self.samples[-1][0], 0))
            p.setBrush(QColor(47, 125, 225, 60))
            p.setPen(QPen(QColor("#2f7de1"), 1.6))
            p.drawPath(path)
            limits = [(t, lim) for t, _, lim in self.samples if lim]
            if limits:
                p.setPen(QPen(QColor("#d9822b"), 1.2, Qt.DashLine))
                for (t0, l0), (t1, _l1) in zip(limits, limits[1:], strict=False):
                    p.drawLine(point(t0, l0), point(t1, l0))
        p.setPen(QColor("#6b7280"))
        peak = max((s[1] for s in self.samples), default=0.0)
        label = f"Upload rate, last hour · peak {format_rate(peak)}" if peak else "No uploads in the last hour"
        p.drawText(QRectF(r.left(), r.bottom() + 4, r.width(), 16), Qt.AlignLeft, label)
        p.setPen(QColor("#d9822b"))
        p.drawText(QRectF(r.left(), r.bottom() + 4, r.width(), 16), Qt.AlignRight, "- - limit")
        p.end()
