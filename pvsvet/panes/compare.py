"""Run comparison pane: after a retrain or a labelled rescore, which objects rose or
fell most, with the provenance of both runs; "new in the top N" as a list to select.

The numbers are :func:`engine.compare.compare`'s (the same as ``pvsvet-engine
compare``); the pane only lists them. Clicking a row makes that object current;
"Select listed" selects them all, which the table filters to with "selection only".
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from ..state import AppState

logger = logging.getLogger(__name__)

#: what the list shows -> (menu text, method of engine.compare.Comparison)
MODES = {"new": "new in the top N", "rose": "rose most", "fell": "fell most",
         "left": "left the top N"}
#: rows listed for "rose most" / "fell most"
LISTED = 200
HEADERS = ("id", "class", "label", "old rank", "new rank", "change")


class ComparePane(QWidget):
    """Two scoring runs of one space side by side, linked to ``state.selection``."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.comparison = None
        self.rows = np.empty(0, dtype=np.int64)
        self.space = QComboBox(toolTip="the score space whose ranking is compared")
        self.against = QComboBox(toolTip="what it is compared with: its previous scoring run, "
                                 "or the current ranking of another space (after a first "
                                 "labelled rescore: active against the space it re-ranked)")
        self.mode = QComboBox(toolTip="what to list")
        for key, text in MODES.items():
            self.mode.addItem(text, key)
        self.top = QSpinBox(toolTip="N of 'new in the top N'", prefix="N = ")
        self.top.setRange(1, 10_000_000)
        self.top.setValue(100)
        self.select_button = QPushButton("Select listed", toolTip=(
            "select every listed object (tick 'selection only' in the table to filter it "
            "to them)"))
        self.provenance = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self.summary = QLabel(wordWrap=True)
        self.list = QTableWidget(0, len(HEADERS))
        self._build()
        self.space.currentIndexChanged.connect(self.refresh)
        self.against.currentIndexChanged.connect(self.refresh)
        self.mode.currentIndexChanged.connect(self._fill)
        self.top.editingFinished.connect(self.refresh)
        self.select_button.clicked.connect(self.select_listed)
        self.list.currentCellChanged.connect(self._on_row)
        state.loaded.connect(self.on_loaded)
        self.on_loaded(state)

    def _build(self) -> None:
        self.list.setHorizontalHeaderLabels(HEADERS)
        self.list.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.list.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.list.verticalHeader().setVisible(False)
        self.list.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        # two rows: on one, the bar was wider than the tab beside Labels and squeezed the
        # space combo to "cartesian (" (each combo now keeps room for its longest item)
        for combo in (self.space, self.against, self.mode):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        which, what = QHBoxLayout(), QHBoxLayout()
        for w in (QLabel("space"), self.space, QLabel("vs"), self.against):
            which.addWidget(w)
        for w in (QLabel("list"), self.mode, self.top, self.select_button):
            what.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        for bar in (which, what):
            bar.addStretch(1)
            lay.addLayout(bar)
        lay.addWidget(self.provenance)
        lay.addWidget(self.summary)
        lay.addWidget(self.list, 1)

    # -- data ----------------------------------------------------------------------
    def on_loaded(self, state: AppState) -> None:
        from engine.compare import recorded
        from engine.errors import PvsvetError

        runs: dict[str, int] = {}
        if state.path is not None:
            try:
                runs = recorded(state.path)
            except PvsvetError as exc:        # busy or damaged: say so, keep the pane
                self._say(str(exc))
                return
        spaces = state.catalog.spaces()
        # first choice: a space with two runs to compare, the ranking space before others
        best = next((sp for sp in [state.catalog.rank_space] + spaces if runs.get(sp, 0) >= 2),
                    state.catalog.rank_space)
        want = self.space.currentData() or best
        _refill(self.space, [(f"{sp} ({runs.get(sp, 0)} runs)", sp) for sp in spaces], want)
        _refill(self.against, [("its previous run", "")] + [(sp, sp) for sp in spaces],
                self.against.currentData() or "")
        if not spaces:
            self.comparison = None
            self._say("nothing is scored yet (Run ▸ Score)")
            return
        self.refresh()

    def refresh(self) -> None:
        from engine.compare import compare, describe_run
        from engine.errors import PvsvetError

        space, against = self.space.currentData(), self.against.currentData() or None
        if not space or self.state.path is None:
            return
        if against == space:
            self._say("choose another space to compare with, or its previous run")
            return
        try:
            c = compare(self.state.path, space, top=self.top.value(), against=against)
        except PvsvetError as exc:
            self._say(str(exc))
            return
        self.comparison = c
        self.provenance.setText(f"old: {describe_run(c.old)}\nnew: {describe_run(c.new)}")
        self.summary.setText(f"top {c.top}: {c.overlap():.0%} kept, {len(c.new_in_top())} "
                             f"new, {len(c.left_top())} left")
        self._fill()

    def listed(self) -> np.ndarray:
        """The catalogue rows the list shows, in its order."""
        c = self.comparison
        if c is None:
            return np.empty(0, dtype=np.int64)
        mode = self.mode.currentData()
        if mode == "rose":
            return c.risers(LISTED)
        if mode == "fell":
            return c.fallers(LISTED)
        return c.left_top() if mode == "left" else c.new_in_top()

    def _fill(self) -> None:
        c, cat = self.comparison, self.state.catalog
        self.rows = self.listed()
        self.list.blockSignals(True)
        self.list.setRowCount(len(self.rows))
        for i, row in enumerate(self.rows):
            row = int(row)
            old, new = int(c.old_rank[row]), int(c.new_rank[row])
            cells = (cat.text("id", row), cat.text("class", row), cat.text("label", row),
                     str(old) if old else "–", str(new) if new else "–",
                     f"{int(c.rise[row]):+d}" if c.rise[row] else "")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j >= 3:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.list.setItem(i, j, item)
        self.list.blockSignals(False)

    def _say(self, text: str) -> None:
        self.comparison = None
        self.provenance.setText(text)
        self.summary.setText("")
        self.rows = np.empty(0, dtype=np.int64)
        self.list.setRowCount(0)

    # -- selection -------------------------------------------------------------------------
    def _on_row(self, index: int, *_):
        if 0 <= index < len(self.rows):
            self.state.selection.set_current(int(self.rows[index]), source=self)

    def select_listed(self) -> None:
        if len(self.rows):
            self.state.selection.select(self.rows, int(self.rows[0]), source=self)


def _refill(combo: QComboBox, items: list[tuple[str, str]], want: str) -> None:
    """Replace a combo's items (text, data) keeping ``want`` current, without signals."""
    combo.blockSignals(True)
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    combo.setCurrentIndex(max(0, combo.findData(want)))
    combo.blockSignals(False)
