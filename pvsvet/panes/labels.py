"""Labelling pane: the label keys, a note, the current object's label history, undo."""
from __future__ import annotations

import functools
import logging
from datetime import datetime

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from engine.errors import PvsvetError

from ..state import AppState

logger = logging.getLogger(__name__)

KEYS = "1234567890"


def key_of(index: int) -> str:
    return KEYS[index] if index < len(KEYS) else ""


class LabelSetDialog(QDialog):
    """Edit the label set: one label per line, in key order 1…9, 0."""

    def __init__(self, labels: list[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Label set")
        self.edit = QPlainTextEdit("\n".join(labels))
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("One label per line; keys 1…9 and 0 give the first ten."))
        lay.addWidget(self.edit)
        lay.addWidget(buttons)

    def labels(self) -> list[str]:
        seen: list[str] = []
        for line in self.edit.toPlainText().splitlines():
            s = line.strip()
            if s and s not in seen:
                seen.append(s)
        return seen


class LabelPane(QWidget):
    """Buttons (and number keys) for labels, note, history and undo of the current object."""

    labels_edited = Signal(list)

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self._shown: int | None = None
        self.labels: list[str] = []
        self.header = QLabel()
        self.header.setTextFormat(Qt.RichText)
        self.note = QLineEdit(placeholderText="note for the next label (optional)…")
        self.history = QListWidget()
        self.undo_button = QPushButton("Undo (Ctrl+Z)")
        self.edit_button = QPushButton("Edit labels…")
        self.status = QLabel(wordWrap=True)
        self._grid = QGridLayout()
        self._build_layout()
        self.undo_button.clicked.connect(self.undo)
        self.edit_button.clicked.connect(self.edit_labels)
        state.selection.changed.connect(self.on_selection)
        state.labels_changed.connect(lambda rows: self.refresh())
        state.loaded.connect(lambda s: self.set_labels(s.label_set))
        self.set_labels(state.label_set)

    def _build_layout(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.header)
        lay.addLayout(self._grid)
        lay.addWidget(self.note)
        row = QHBoxLayout()
        row.addWidget(self.undo_button)
        row.addWidget(self.edit_button)
        lay.addLayout(row)
        lay.addWidget(QLabel("history (newest first):"))
        lay.addWidget(self.history, 1)
        lay.addWidget(self.status)

    def set_labels(self, labels: list[str]) -> None:
        """Use ``labels`` as the key set (1…9, 0) and rebuild the buttons."""
        self.labels = list(labels)
        while self._grid.count():
            w = self._grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        for i, name in enumerate(self.labels):
            key = key_of(i)
            b = QPushButton(f"{key}  {name}" if key else name)
            b.setToolTip(f"label the current object '{name}'" + (f" (key {key})" if key else ""))
            b.clicked.connect(functools.partial(self._assign_clicked, name))
            self._grid.addWidget(b, i // 3, i % 3)
        self.refresh()

    def edit_labels(self) -> None:
        dlg = LabelSetDialog(self.labels, self)
        if dlg.exec() == QDialog.Accepted and dlg.labels():
            self.state.set_label_set(dlg.labels())
            self.set_labels(dlg.labels())
            self.labels_edited.emit(self.labels)

    @property
    def row(self) -> int | None:
        """The object a label goes to: always the Selection's current one (never a copy
        that could lag behind it)."""
        return self.state.selection.current

    # -- actions -------------------------------------------------------------------
    def assign_key(self, key: str) -> bool:
        """Label the current object with the label of number key ``key``."""
        i = KEYS.find(key)
        if i < 0 or i >= len(self.labels):
            return False
        return self.assign(self.labels[i])

    def _assign_clicked(self, label: str, *_) -> None:
        self.assign(label)

    def assign(self, label: str) -> bool:
        if self.row is None:
            self.status.setText("select an object first")
            return False
        if self.state.journal is None:
            self.status.setText(self.state.journal_message or "no label journal")
            return False
        try:
            self.state.add_label(self.row, label, self.note.text().strip())
        except PvsvetError as exc:     # e.g. a full disk: nothing written, the note kept
            self.status.setText(f"not labelled: {exc}")
            return False
        self.note.clear()
        self.status.setText(f"labelled {self.state.catalog.object_id(self.row)} '{label}'")
        return True

    def undo(self) -> None:
        if self.row is not None and self.state.journal is not None:
            try:
                self.state.undo_label(self.row)
            except PvsvetError as exc:
                self.status.setText(f"not undone: {exc}")
                return
            self.status.setText(f"undid the last label of {self.state.catalog.object_id(self.row)}")

    # -- view ----------------------------------------------------------------------
    def on_selection(self, sel, source) -> None:
        self.refresh()      # the current object or the count of selected ones changed

    def refresh(self) -> None:
        self._shown = self.row
        self.history.clear()
        enabled = self.row is not None and self.state.journal is not None
        self.undo_button.setEnabled(enabled)
        if self.state.journal is None and self.state.path is not None:
            self.status.setText(self.state.journal_message)
        if self.row is None or self.row >= len(self.state.catalog):
            self.header.setText("no object selected")
            return
        cat = self.state.catalog
        current = cat.text("label", self.row) or "—"
        self.header.setText(f"<b>{cat.object_id(self.row)}</b> · label: <b>{current}</b> · "
                            f"{len(self.state.selection.rows)} selected")
        for e in reversed(self.state.history(self.row)):
            self.history.addItem(_entry_text(e))


def _entry_text(e) -> str:
    when = getattr(e, "time", "")
    if isinstance(when, (int, float)):
        when = datetime.fromtimestamp(when).isoformat(sep=" ", timespec="minutes")
    score = getattr(e, "score", None)
    s = f" score {score:.3f}" if isinstance(score, (int, float)) and np.isfinite(score) else ""
    note = f" — {e.note}" if getattr(e, "note", "") else ""
    who = f" ({e.author})" if getattr(e, "author", "") else ""
    return f"{str(when)[:16]}  {e.label or '(cleared)'}{who}{s}{note}"
