"""Restore: pick a snapshot by date, browse its folders, tick files and folders, restore them with progress.

Restoring goes to the original place or to another folder; an existing file is never overwritten
unless the box saying so is ticked (the engine refuses otherwise, and reports the file).
"""

from __future__ import annotations

import os
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
)

from app.bridge import EngineBridge
from app.pages.common import Page, hint
from engine.base.errors import Problem
from engine.base.units import format_bytes
from engine.service import Kind

__all__ = ["RestorePage"]


class RestorePage(Page):
    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__("Restore", "Choose a backup by its date, tick what you want back, and where it should go.")
        self.bridge = bridge
        self.snapshot = QComboBox()
        self.snapshot.currentIndexChanged.connect(self._load_tree)
        self.layout_.addWidget(self.snapshot)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Name", "Size", "Modified"])
        self.tree.setColumnWidth(0, 340)
        self.layout_.addWidget(self.tree, 1)
        where = QHBoxLayout()
        self.original = QCheckBox("Put files back where they were")
        self.original.setChecked(True)
        self.target = QPushButton("Restore to…")
        self.target.clicked.connect(self._choose_target)
        self.target_dir: str | None = None
        self.overwrite = QCheckBox("Replace files that exist")
        where.addWidget(self.original)
        where.addWidget(self.target)
        where.addWidget(self.overwrite)
        where.addStretch(1)
        self.layout_.addLayout(where)
        self.progress = QProgressBar()
        self.progress.hide()
        self.layout_.addWidget(self.progress)
        self.result = hint("")
        self.layout_.addWidget(self.result)
        go = QHBoxLayout()
        go.addStretch(1)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setDefault(True)
        self.restore_button.clicked.connect(self.restore)
        go.addWidget(self.restore_button)
        self.layout_.addLayout(go)
        self.snapshots = []
        bridge.answered.connect(self._answered)
        bridge.progress.connect(self._progress)
        bridge.job_finished.connect(self._finished)
        bridge.job_failed.connect(self._failed)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.bridge.ask_snapshots()

    def _answered(self, name: str, answer) -> None:
        if name == "snapshots":
            self.snapshots = answer
            self.snapshot.blockSignals(True)
            self.snapshot.clear()
            for s in answer:
                self.snapshot.addItem(f"{s.time} — {', '.join(os.path.basename(p) for p in s.paths)}", s.id)
            self.snapshot.blockSignals(False)
            self._load_tree()
        elif name == "tree":
            self._fill(answer)

    def _load_tree(self) -> None:
        ref = self.snapshot.currentData()
        self.tree.clear()
        if ref:
            self.bridge.ask("tree", lambda s: list(s.list_files(ref)))

    def _fill(self, rows) -> None:
        self.tree.clear()
        items: dict[str, QTreeWidgetItem] = {}
        for rel, e in rows:
            parent_key, _, name = rel.rpartition("/")
            parent = items.get(parent_key)
            size = format_bytes(e.size) if e.kind == Kind.FILE else ""
            item = QTreeWidgetItem([name, size, f"{datetime.fromtimestamp(e.mtime_ns / 1e9):%Y-%m-%d %H:%M}"])
            item.setData(0, Qt.UserRole, rel)
            item.setCheckState(0, Qt.Unchecked)
            (parent.addChild(item) if parent else self.tree.addTopLevelItem(item))
            items[rel] = item
        if self.tree.topLevelItemCount():
            self.tree.topLevelItem(0).setExpanded(True)

    def checked(self) -> list[str]:
        """The ticked paths, without those under a ticked folder (it brings them)."""
        out: list[str] = []

        def walk(item: QTreeWidgetItem) -> None:
            if item.checkState(0) == Qt.Checked:
                out.append(item.data(0, Qt.UserRole))
                return
            for i in range(item.childCount()):
                walk(item.child(i))

        for i in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(i))
        return out

    def _choose_target(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Restore into")
        if folder:
            self.target_dir = folder
            self.original.setChecked(False)

    def restore(self) -> None:
        ref, paths = self.snapshot.currentData(), self.checked()
        if not ref or not paths:
            self.result.setText("Tick the files or folders to restore first.")
            return
        snap = next(s for s in self.snapshots if s.id == ref)
        target = self.target_dir if not self.original.isChecked() and self.target_dir else None
        where = target or snap.base  # the folder it was backed up from: the engine's rule, as `backbeat restore`
        overwrite = self.overwrite.isChecked()
        self.result.setText(f"Restoring {len(paths)} item(s) to {where}…")
        self.bridge.run_job("restore", lambda s: s.restore(ref, where, paths, overwrite))

    def _progress(self, ev) -> None:
        if ev.phase == "restoring" and ev.bytes_total:
            self.progress.show()
            self.progress.setValue(int(100 * ev.bytes_done / ev.bytes_total))

    def _finished(self, kind: str, r) -> None:
        if kind != "restore":
            return
        self.progress.hide()
        names = "; ".join(f"{f.path} ({f.reason})" for f in r.failed[:3])
        failed = f" {len(r.failed)} item(s) could not be restored: {names}" if r.failed else ""
        there = f" {r.already_there} file(s) were already there, the same." if r.already_there else ""
        self.result.setText(f"Restored {r.files} file(s), {format_bytes(r.bytes)}.{there}{failed}")

    def _failed(self, kind: str, problem: Problem) -> None:
        if kind in ("restore", "tree", "snapshots"):
            self.progress.hide()
            self.result.setText(str(problem))
