"""Restore: pick a backup by its date, or find a file by name in every backup; tick files and
folders; see where they will go; restore with progress, and stop at any moment.

Ticks are tri-state (a ticked folder brings all it holds; a folder with some of its files ticked
shows it) and stay when the user visits another page. A big backup's listing is put in the tree
a slice at a time, so the window never freezes. An existing file is never replaced unless the
box saying so is ticked; the engine keeps it otherwise, and the page says how many were kept.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from datetime import datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
)

from app.bridge import EngineBridge, Snapshot
from app.pages.common import Page, hint
from engine.base.errors import Problem
from engine.base.units import format_bytes, format_when
from engine.service import Kind, TreeEntry

__all__ = ["RestorePage"]

#: tree rows put in per turn of the event loop (about 20 ms of it on these 2-core machines)
_SLICE = 500
_PATH = Qt.UserRole
_SNAPSHOT = Qt.UserRole + 1


def _modified(mtime_ns: int) -> str:
    return format_when(datetime.fromtimestamp(mtime_ns / 1e9))


def _row(rel: str, entry: TreeEntry) -> tuple[str, bool, int, int]:
    """What the tree shows of an entry: (path, a folder, a file's size or -1, modified). Plain
    values only: Python's collector skips such tuples, so a 200,000-row listing held while the tree
    fills costs the collector nothing, and the window does not stall on it."""
    return rel, entry.kind == Kind.DIR, entry.size if entry.kind == Kind.FILE else -1, entry.mtime_ns


class RestorePage(Page):
    def __init__(self, bridge: EngineBridge) -> None:
        super().__init__(
            "Restore", "Choose a backup by its date, or find a file by name; tick what you want back and where it goes."
        )
        self.bridge = bridge
        self.snapshots: list[Snapshot] = []
        self._browser()
        self._where_row()
        self.goes_to = hint("")
        self.layout_.addWidget(self.goes_to)
        self.progress = QProgressBar()
        self.progress.hide()
        self.layout_.addWidget(self.progress)
        self.result = hint("")
        self.layout_.addWidget(self.result)
        go = QHBoxLayout()
        go.addStretch(1)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setDefault(True)
        self.restore_button.clicked.connect(self._restore_or_stop)
        go.addWidget(self.restore_button)
        self.layout_.addLayout(go)
        self.restoring = False
        self._rows: Iterator | None = None  # the listing still to put in the tree
        self._folders: dict[str, QTreeWidgetItem] = {}  # by path: where the rows below them go
        self._reveal: str | None = None  # a found file to show and tick once its backup is listed
        self._want: str | None = None  # a backup to choose once the list holds it (one made since)
        self._filling = QTimer(self)
        self._filling.setInterval(0)
        self._filling.timeout.connect(self._fill_slice)
        bridge.answered.connect(self._answered)
        bridge.progress.connect(self._progress)
        bridge.job_finished.connect(self._finished)
        bridge.job_failed.connect(self._failed)

    def _browser(self) -> None:
        """The backup's date and the search above; the backup's tree, or what was found, below."""
        top = QHBoxLayout()
        self.snapshot = QComboBox()
        self.snapshot.currentIndexChanged.connect(self._load_tree)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find a file in every backup…")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self._find)
        self.search.textChanged.connect(lambda text: None if text.strip() else self.views.setCurrentIndex(0))
        top.addWidget(self.snapshot, 3)
        top.addWidget(self.search, 2)
        self.layout_.addLayout(top)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Name", "Size", "Modified"])
        self.tree.setColumnWidth(0, 340)
        self.results = QTreeWidget()
        self.results.setHeaderLabels(["Found", "Size", "Modified", "Backed up"])
        self.results.setColumnWidth(0, 340)
        self.results.setRootIsDecorated(False)
        self.results.itemActivated.connect(self._show_found)
        self.views = QStackedWidget()
        self.views.addWidget(self.tree)
        self.views.addWidget(self.results)
        self.layout_.addWidget(self.views, 1)

    def _where_row(self) -> None:
        where = QHBoxLayout()
        self.original = QCheckBox("Put files back where they were")
        self.original.setChecked(True)
        self.original.toggled.connect(self._show_target)
        self.target = QPushButton("Restore to…")
        self.target.clicked.connect(self._choose_target)
        self.target_dir: str | None = None
        self.overwrite = QCheckBox("Replace files that exist")
        where.addWidget(self.original)
        where.addWidget(self.target)
        where.addWidget(self.overwrite)
        where.addStretch(1)
        self.layout_.addLayout(where)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.bridge.ask_snapshots()

    # -- which backup --------------------------------------------------------------------------
    def _answered(self, name: str, answer) -> None:
        if name == "snapshots":
            self._set_snapshots(answer)
        elif name == "tree":
            ref, rows = answer
            if ref == self.snapshot.currentData():  # not the listing of a backup chosen before
                self._start_fill(rows)
        elif name == "find":
            self._show_results(*answer)

    def _set_snapshots(self, snapshots: list[Snapshot]) -> None:
        """The list again (each visit): the same backups keep the tree and its ticks as they are."""
        if [s.id for s in snapshots] == [s.id for s in self.snapshots]:
            return
        chosen, self._want = self._want or self.snapshot.currentData(), None
        self.snapshots = snapshots
        self.snapshot.blockSignals(True)
        self.snapshot.clear()
        for s in snapshots:
            folders = ", ".join(os.path.basename(p) or p for p in s.paths)
            self.snapshot.addItem(f"Backup of {format_when(s.time)} — {folders}", s.id)
        kept = self.snapshot.findData(chosen) if chosen else -1
        if kept < 0:
            self._reveal = None  # a found file's backup that is gone meanwhile: nothing to show
        self.snapshot.setCurrentIndex(max(kept, 0))
        self.snapshot.blockSignals(False)
        if kept < 0:
            self._load_tree()
        self._show_target()

    def _load_tree(self) -> None:
        ref = self.snapshot.currentData()
        self._filling.stop()
        self.tree.clear()
        self._folders = {}
        gc.unfreeze()  # what the last listing froze is collectable again (see _fill_slice)
        self._show_target()
        if ref:
            self.bridge.ask("tree", lambda s: (ref, [_row(rel, e) for rel, e in s.list_files(ref)]))

    def _start_fill(self, rows: list) -> None:
        self.tree.clear()
        self._folders = {}
        self._rows = iter(rows)
        self._fill_slice()
        self._filling.start()

    def _fill_slice(self) -> None:
        """A slice of the listing into the tree; the rest on the next turn of the event loop.

        Each tree row keeps a Python object alive (PySide's wrapper). With 200,000 of them, each
        full pass of Python's cyclic collector took 70-155 ms, and the window stalled that long;
        frozen as they are made (`gc.freeze`), the collector skips them (bench/app_responsiveness.py,
        200,000 files, two or three runs each: the longest stall while the backup is listed
        143-157 ms before, 92-118 after, none from the collector or these slots over 40 ms; during
        the restore after it 80-95 ms before, 31-35 after). They are still freed as usual when the
        tree is cleared, and unfrozen then."""
        gc.freeze()  # the rows made so far: Python's collector need not walk them again (see _row)
        for _ in range(_SLICE):
            row = next(self._rows, None)
            if row is None:
                self._filling.stop()
                if self.tree.topLevelItemCount():
                    self.tree.topLevelItem(0).setExpanded(True)
                self._reveal_found()
                return
            self._add_row(*row)

    def _add_row(self, rel: str, folder: bool, size: int, mtime_ns: int) -> None:
        parent_key, _, name = rel.rpartition("/")
        parent = self._folders.get(parent_key)
        item = QTreeWidgetItem([name, format_bytes(size) if size >= 0 else "", _modified(mtime_ns)])
        item.setData(0, _PATH, rel)
        if folder:
            item.setFlags(item.flags() | Qt.ItemIsAutoTristate)
            self._folders[rel] = item
        # a folder ticked before all it holds was listed brings its late arrivals too
        ticked = parent is not None and parent.checkState(0) == Qt.Checked
        item.setCheckState(0, Qt.Checked if ticked else Qt.Unchecked)
        (parent.addChild(item) if parent else self.tree.addTopLevelItem(item))

    def item(self, rel: str) -> QTreeWidgetItem | None:
        """The row of `rel` in the tree (files are found through their folder: only folders are kept)."""
        if rel in self._folders:
            return self._folders[rel]
        parent_key, _, name = rel.rpartition("/")
        parent = self._folders.get(parent_key)
        children = (parent.child(i) for i in range(parent.childCount())) if parent else ()
        return next((c for c in children if c.text(0) == name), None)

    def checked(self) -> list[str]:
        """The ticked paths, without those under a ticked folder (it brings them)."""
        out: list[str] = []
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            state = item.checkState(0)
            if state == Qt.Checked:
                out.append(item.data(0, _PATH))
            elif state == Qt.PartiallyChecked:
                stack.extend(item.child(i) for i in range(item.childCount()))
        return sorted(out)

    # -- finding a file in every backup ------------------------------------------------------
    def _find(self) -> None:
        text = self.search.text().strip()
        if not text:
            return
        self.results.clear()
        self.results.addTopLevelItem(QTreeWidgetItem([f"Looking for “{text}” in every backup…"]))
        self.views.setCurrentIndex(1)
        self.bridge.ask("find", lambda s: (text, *s.find(text)))

    def _show_results(self, text: str, versions, more: bool) -> None:
        if text != self.search.text().strip():
            return  # the user typed something else meanwhile
        self.results.clear()
        for v in versions:
            held = f" (and {v.backups - 1} older)" if v.backups > 1 else ""
            size = format_bytes(v.size) if v.kind == Kind.FILE else "folder"
            backed_up = f"{format_when(v.snapshot_time)}{held}"
            item = QTreeWidgetItem([v.path, size, _modified(v.mtime_ns), backed_up])
            item.setData(0, _PATH, v.path)
            item.setData(0, _SNAPSHOT, v.snapshot_id)
            item.setToolTip(0, "Double-click to tick it in the backup that holds it")
            self.results.addTopLevelItem(item)
        if not versions:
            self.results.addTopLevelItem(QTreeWidgetItem([f"Nothing named like “{text}” in any backup."]))
        elif more:
            self.results.addTopLevelItem(QTreeWidgetItem([f"More than {len(versions)} found: type more of the name."]))

    def _show_found(self, item: QTreeWidgetItem) -> None:
        """A found version: its backup is chosen and listed, and the file shown there, ticked."""
        ref = item.data(0, _SNAPSHOT)
        if not ref:
            return
        self._reveal = item.data(0, _PATH)
        self.views.setCurrentIndex(0)
        index = self.snapshot.findData(ref)
        if index < 0:  # a backup made since the list was read: read it again, then choose it
            self._want = ref
            self.bridge.ask_snapshots()
        elif index == self.snapshot.currentIndex():
            self._reveal_found()
        else:
            self.snapshot.setCurrentIndex(index)  # lists it; the file is shown once it is in the tree

    def _reveal_found(self) -> None:
        item = self.item(self._reveal) if self._reveal else None
        if item is None:
            return
        self._reveal = None
        parent = item.parent()
        while parent is not None:
            parent.setExpanded(True)
            parent = parent.parent()
        item.setCheckState(0, Qt.Checked)
        self.tree.setCurrentItem(item)
        self.tree.scrollToItem(item)

    # -- where it goes, and restoring --------------------------------------------------------
    def _choose_target(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Restore into")
        if folder:
            self.target_dir = folder
            self.original.setChecked(False)
            self._show_target()

    def _where(self) -> str | None:
        """The folder the ticked paths are restored under: the one they were backed up from
        (the snapshot's base, the engine's rule, as `backbeat restore`), or the one chosen."""
        if not self.original.isChecked() and self.target_dir:
            return self.target_dir
        ref = self.snapshot.currentData()
        snap = next((s for s in self.snapshots if s.id == ref), None)
        return snap.base if snap else None

    def _show_target(self) -> None:
        where = self._where()
        if where is None:
            self.goes_to.setText("")
        elif where == self.target_dir and not self.original.isChecked():
            self.goes_to.setText(f"Restores into {where}")
        else:
            self.goes_to.setText(f"Restores to where the files were, in {where}")

    def _restore_or_stop(self) -> None:
        if self.restoring:
            if self.bridge.stop_job():
                self.restore_button.setEnabled(False)
                self.result.setText("Stopping…")
            return
        self.restore()

    def restore(self) -> None:
        ref, paths, where = self.snapshot.currentData(), self.checked(), self._where()
        if not ref or not paths or where is None:
            self.result.setText("Tick the files or folders to restore first.")
            return
        overwrite = self.overwrite.isChecked()
        if self.bridge.run_job("restore", lambda s: s.restore(ref, where, paths, overwrite)):
            self._set_restoring(True)
            self.result.setText(f"Restoring {len(paths)} item(s) to {where}…")
        else:
            self.result.setText("Another job is running; restore when it has finished.")

    def _set_restoring(self, on: bool) -> None:
        self.restoring = on
        self.restore_button.setText("Stop" if on else "Restore")
        self.restore_button.setEnabled(True)
        self.progress.setVisible(on)
        self.progress.setValue(0)

    def _progress(self, ev) -> None:
        if self.restoring and ev.phase == "restoring" and ev.bytes_total:
            self.progress.setValue(int(100 * ev.bytes_done / ev.bytes_total))

    def _finished(self, kind: str, r) -> None:
        if kind == "backup" and self.isVisible():
            self.bridge.ask_snapshots()  # the new backup joins the list
        if kind != "restore":
            return
        self._set_restoring(False)
        said = [f"Restored {r.files} file(s), {format_bytes(r.bytes)}."]
        if r.already_there:
            said.append(f"{r.already_there} were already there, the same.")
        if r.kept:
            said.append(
                f"{len(r.kept)} were kept as they are on your disk (a different file of that name is there); "
                "tick “Replace files that exist” to replace them."
            )
        if r.failed:
            names = "; ".join(f"{f.path} ({f.reason})" for f in r.failed[:3])
            said.append(f"{len(r.failed)} could not be restored: {names}")
        self.result.setText(" ".join(said))

    def _failed(self, kind: str, problem: Problem) -> None:
        if kind == "restore":
            self._set_restoring(False)
            if problem.kind == "stopped":
                self.result.setText("Stopped. The files restored so far are in place; Restore again for the rest.")
                return
        if kind in ("restore", "tree", "snapshots", "find"):
            self.result.setText(str(problem))
