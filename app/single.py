"""One copy of the app per user: a second start (a double click, a login item beside a manual
start) shows the first copy's window and ends, instead of two schedulers racing each other.

A lock file in the app-data folder says whether a copy runs (a crashed copy's lock is stale and
taken over); a local socket named after that folder carries "show" to it.
"""

from __future__ import annotations

import hashlib

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from engine.base.home import app_dir

__all__ = ["SingleInstance"]


class SingleInstance(QObject):
    #: another start asked this copy to show itself
    activated = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        folder = app_dir()
        self.name = "backbeat-" + hashlib.sha256(str(folder).encode()).hexdigest()[:16]
        self._lock = QLockFile(str(folder / "app.lock"))
        #: this is the copy that runs (False: another one does, and has been asked to show itself)
        self.first = self._lock.tryLock(100)
        self._server: QLocalServer | None = None
        if self.first:
            QLocalServer.removeServer(self.name)  # a crashed copy's socket
            self._server = QLocalServer(self)
            self._server.newConnection.connect(self._knock)
            self._server.listen(self.name)
        else:
            socket = QLocalSocket()
            socket.connectToServer(self.name)
            if socket.waitForConnected(1000):
                socket.write(b"show\n")
                socket.waitForBytesWritten(1000)
                socket.disconnectFromServer()

    def _knock(self) -> None:
        while self._server is not None and self._server.hasPendingConnections():
            self._server.nextPendingConnection().deleteLater()
            self.activated.emit()

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
        if self.first:
            self._lock.unlock()
