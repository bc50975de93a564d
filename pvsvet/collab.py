"""Several astronomers: merge a colleague's labels, and go through the conflicts.

Edit ▸ Merge a colleague's labels… reads their journal (or their store's) with
:func:`engine.label_merge.merge`: their labels join ours with their author, and where
both of us labelled an object differently nothing of ours changes; the conflict dialog
lists those objects, shows the one clicked in every pane, and takes their label or
keeps ours on request (each choice one journal entry, nothing overwritten).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFileDialog, QHBoxLayout,
                               QHeaderView, QLabel, QMessageBox, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow

    from .state import AppState

logger = logging.getLogger(__name__)

HEADERS = ("id", "ours", "by", "theirs", "by", "from")


class ConflictDialog(QDialog):
    """The unresolved conflicts of a store: choose theirs or keep ours, row by row."""

    def __init__(self, state: "AppState", parent=None):
        super().__init__(parent)
        self.state = state
        self.setWindowTitle("Label conflicts")
        self.resize(760, 380)
        self.note = QLabel(wordWrap=True)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.theirs = QPushButton("Take &theirs", toolTip="their label becomes the current "
                                  "one (a new journal entry recorded as theirs)")
        self.mine = QPushButton("Keep &mine", toolTip="our label stays; the conflict leaves "
                                "the list")
        close = QPushButton("Close")
        self.theirs.clicked.connect(lambda: self.resolve("theirs"))
        self.mine.clicked.connect(lambda: self.resolve("mine"))
        close.clicked.connect(self.accept)
        self.table.currentCellChanged.connect(self._show)
        buttons = QHBoxLayout()
        for b in (self.theirs, self.mine):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.note)
        lay.addWidget(self.table, 1)
        lay.addLayout(buttons)
        self.conflicts: list = []
        self.refresh()

    def refresh(self) -> None:
        from engine.label_merge import conflicts

        self.conflicts = conflicts(self.state.path)
        self.table.setRowCount(len(self.conflicts))
        for i, c in enumerate(self.conflicts):
            cells = (c.object_id, c.mine.label, c.mine.author, c.theirs.label,
                     c.theirs.author, c.source)
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QTableWidgetItem(str(text)))
        n = len(self.conflicts)
        self.note.setText(f"{n} objects labelled differently by you and a colleague; yours "
                          "stay until you choose. Click a row to see the object."
                          if n else "No unresolved label conflicts.")
        for b in (self.theirs, self.mine):
            b.setEnabled(bool(n))

    def _show(self, index: int, *_):
        if 0 <= index < len(self.conflicts):
            row = self.state.catalog.row_of_id(self.conflicts[index].object_id)
            if row is not None:
                self.state.selection.set_current(row, source=self)

    def resolve(self, take: str, index: int | None = None) -> None:
        """Resolve the conflict at ``index`` (default: the table's current row)."""
        from engine.errors import PvsvetError
        from engine.label_merge import resolve

        index = self.table.currentRow() if index is None else index
        if not 0 <= index < len(self.conflicts):
            return
        oid = self.conflicts[index].object_id
        try:
            resolve(self.state.path, oid, take, author=self.state.author)
        except PvsvetError as exc:
            QMessageBox.warning(self, "Label conflicts", str(exc))
            return
        self.state.reload_labels()
        self.refresh()
        self.table.setCurrentCell(min(index, self.table.rowCount() - 1), 0)


class Collaboration:
    """Adds Edit ▸ Merge a colleague's labels… and Edit ▸ Label conflicts…"""

    def __init__(self, window: "QMainWindow", state: "AppState"):
        self.w, self.state = window, state
        edit = next((a.menu() for a in window.menuBar().actions()
                     if a.menu() and a.text().replace("&", "") == "Edit"), None)
        if edit is None:
            edit = window.menuBar().addMenu("&Edit")
        edit.addSeparator()
        edit.addAction("&Merge a colleague's labels…").triggered.connect(
            lambda *_: self.merge_dialog())
        edit.addAction("Label &conflicts…").triggered.connect(lambda *_: self.conflicts())

    def merge_dialog(self) -> None:
        if self.state.path is None:
            return
        path, _ = QFileDialog.getOpenFileName(
            self.w, "Merge a colleague's labels", str(self.state.path.parent),
            "Label journals and stores (*.labels.sqlite *.h5 *.hdf5);;All files (*)")
        if path:
            self.merge(path)

    def merge(self, other: str) -> "ConflictDialog | None":
        """Merge ``other`` (a journal or a store) in; open the conflict list if any."""
        from engine.errors import PvsvetError
        from engine.label_merge import merge

        try:
            ids = self.state.catalog.ids
            result = merge(self.state.path, other, {i.decode("utf-8", "replace") for i in ids})
        except PvsvetError as exc:
            QMessageBox.warning(self.w, "Merge labels", str(exc))
            return None
        self.state.reload_labels()
        self.w.statusBar().showMessage(result.summary(other), 15000)
        return self.conflicts() if result.conflicts else None

    def conflicts(self, modal: bool = False) -> "ConflictDialog | None":
        if self.state.path is None:
            return None
        dlg = ConflictDialog(self.state, self.w)
        if modal:
            dlg.exec()
        else:
            dlg.show()
        return dlg
