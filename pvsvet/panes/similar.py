"""Similar objects: a grid of small folded light curves, labelled in one action.

With one object selected the grid shows it (first cell, starred) and its k nearest
neighbours in the VAE latent space (:class:`engine.neighbours.NeighbourIndex` over the
latent means, built once per store on first use). With several selected (a box or
lasso region of the latent scatter, a table range) it shows the selected objects, most
anomalous first. A click checks or unchecks a cell; a double click makes that object
the current one. "Label checked" and "Label all" write one journal entry per object
through :meth:`AppState.add_labels`; for a selection "all" is every selected object,
including those beyond the grid.
"""
from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from engine.errors import PvsvetError
from engine.fold import fold
from engine.neighbours import NeighbourIndex

from ..loading import read_lightcurves
from ..state import AppState
from .common import BAND_COLOURS, HIGHLIGHT

logger = logging.getLogger(__name__)

COLUMNS = 4
MAX_CELLS = 16
CHECKED_PEN = pg.mkPen(HIGHLIGHT, width=2.5)
PLAIN_PEN = pg.mkPen("#4a4d55", width=1)


class _Cell(pg.PlotItem):
    """One small folded light curve; tells the pane about clicks."""

    def __init__(self, pane: "SimilarPane", index: int):
        super().__init__()
        self.pane, self.index = pane, index
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.invertY(True)
        self.points = [pg.ScatterPlotItem(size=3, pen=None, brush=c) for c in BAND_COLOURS]
        for item in self.points:
            self.addItem(item)

    def mouseClickEvent(self, ev):  # noqa: N802 (Qt override)
        if ev.button() != Qt.LeftButton:
            return
        ev.accept()
        if ev.double():
            self.pane.open_cell(self.index)
        else:
            self.pane.toggle(self.index)


class SimilarPane(QWidget):
    """Neighbours in latent space (or the multi-object selection) as a labelling grid."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.rows = np.empty(0, np.int64)      # what the cells show, in order
        self.distances = np.empty(0)           # latent distance to the object (neighbours)
        self.mode = "neighbours"               # or "selection"
        self.checked: set[int] = set()         # indexes into self.rows
        self._index: NeighbourIndex | None = None
        self._stale = True
        self.k = QSpinBox(minimum=1, maximum=MAX_CELLS - 1, value=MAX_CELLS - 1)
        self.k.setPrefix("k = ")
        self.label = QComboBox()
        self.label_checked = QPushButton("Label checked")
        self.label_all = QPushButton("Label all")
        self.header = QLabel(wordWrap=True)
        self.status = QLabel(wordWrap=True)
        self.grid = pg.GraphicsLayoutWidget()
        self.cells = self._make_cells()
        self._build_layout()
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._redraw_if_shown)
        self.k.valueChanged.connect(self._invalidate)
        self.label_checked.clicked.connect(lambda: self._label_clicked("checked"))
        self.label_all.clicked.connect(lambda: self._label_clicked("all"))
        state.selection.changed.connect(lambda sel, src: self._invalidate())
        state.loaded.connect(self.on_loaded)
        state.labels_changed.connect(lambda rows: self._invalidate())
        self.on_loaded(state)

    def _make_cells(self) -> list[_Cell]:
        cells = []
        for i in range(MAX_CELLS):
            cell = _Cell(self, i)
            self.grid.addItem(cell, row=i // COLUMNS, col=i % COLUMNS)
            cells.append(cell)
        return cells

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(self.k)
        bar.addStretch(1)
        for w in (QLabel("as"), self.label, self.label_checked, self.label_all):
            bar.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.header)
        lay.addWidget(self.grid, 1)
        lay.addWidget(self.status)

    # -- state ---------------------------------------------------------------------
    def on_loaded(self, state: AppState) -> None:
        self._index = None                     # other latent means: rebuild on first use
        self.label.clear()
        self.label.addItems(state.label_set)
        self._invalidate()

    def _invalidate(self) -> None:
        self._stale = True
        if self.isVisible():
            self._timer.start()                # several changes in a row: one redraw

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._stale:
            self._timer.start()

    def _redraw_if_shown(self) -> None:
        """The deferred redraw, unless the pane was hidden since (a tab shown for a
        moment while the docks are arranged): the index build waits for a real look."""
        if self.isVisible():
            self.redraw()

    def neighbours(self, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest objects to ``row`` in latent space (rows, distances)."""
        if self.state.latent is None:
            raise PvsvetError("no latent means yet — Run ▸ Retrain VAE (then Encode)")
        if self._index is None:
            self._index = NeighbourIndex().fit(self.state.latent)
        return self._index.query(row, k)

    def _choose_rows(self) -> str:
        """Fill ``rows`` from the selection; return the header text."""
        sel, cat = self.state.selection, self.state.catalog
        if len(sel.rows) > 1:
            self.mode = "selection"
            score = np.nan_to_num(cat.score()[sel.rows], nan=-1.0)
            order = sel.rows[np.argsort(-score, kind="stable")]
            self.rows, self.distances = order[:MAX_CELLS], np.full(min(len(order), MAX_CELLS),
                                                                    np.nan)
            more = f" (the first {MAX_CELLS} by score)" if len(order) > MAX_CELLS else ""
            return f"the selection: {len(order):,} objects{more}"
        self.mode = "neighbours"
        if sel.current is None:
            self.rows, self.distances = np.empty(0, np.int64), np.empty(0)
            return "select an object in the table"
        near, dist = self.neighbours(sel.current, self.k.value())
        self.rows = np.concatenate([[sel.current], near]).astype(np.int64)
        self.distances = np.concatenate([[0.0], dist])
        return (f"★ {cat.object_id(sel.current)} and its {len(near)} nearest neighbours in "
                "the latent space (Euclidean distance d between latent means)")

    # -- drawing ---------------------------------------------------------------------
    def redraw(self) -> None:
        self._stale = False
        self.checked.clear()
        if self.state.path is None or not len(self.state.catalog):
            self._show_rows([], "open a store")
            return
        try:
            header = self._choose_rows()
            lcs = read_lightcurves(self.state.path, self.rows) if len(self.rows) else []
        except PvsvetError as exc:
            self.rows = np.empty(0, np.int64)
            self._show_rows([], str(exc))
            if "busy" in str(exc):
                QTimer.singleShot(500, self._invalidate)
            return
        self._show_rows(lcs, header)

    def _show_rows(self, lcs: list, header: str) -> None:
        self.header.setText(header)
        for i, cell in enumerate(self.cells):
            if i < len(lcs):
                self._draw_cell(cell, i, lcs[i])
            else:
                for item in cell.points:
                    item.setData([], [])
                cell.setTitle("")
                cell.getViewBox().setBorder(None)
        self._update_status()

    def _draw_cell(self, cell: _Cell, i: int, lc) -> None:
        cat, row = self.state.catalog, int(self.rows[i])
        period = float(cat.period[row])
        ok = np.isfinite(period) and period > 0
        for band, item in enumerate(cell.points):
            m = lc.band == band
            x = fold(lc.time[m], period) if ok else lc.time[m] - (lc.time.min() if len(lc) else 0)
            item.setData(x, lc.mag[m].astype("f8"))
        first = "★ " if self.mode == "neighbours" and i == 0 else ""
        dist = "" if not np.isfinite(self.distances[i]) or i == 0 else \
            f" d={self.distances[i]:.2f}"
        label = cat.text("label", row)
        # two lines: on one, a title (id, class, d) was wider than a quarter of the pane and
        # pushed the fourth column out of view
        cell.setTitle(f"<span style='font-size:8pt'>{first}{cat.object_id(row)}<br>"
                      f"{cat.text('class', row)}{dist}{' · ' + label if label else ''}"
                      f"{'' if ok else ' (time)'}</span>")
        cell.getViewBox().setBorder(CHECKED_PEN if i in self.checked else PLAIN_PEN)
        cell.autoRange()

    def _update_status(self) -> None:
        n = len(self.rows)
        self.label_checked.setEnabled(bool(self.checked))
        self.label_all.setEnabled(n > 0)
        if not n:
            self.status.setText("")
            return
        if self.mode == "neighbours":
            # the ★ object is no neighbour: "0 of 16 checked" counted it among them
            star = " and ★ itself" if 0 in self.checked else ""
            count = (f"{len(self.checked - {0})} of {n - 1} neighbour{'s' * (n != 2)} "
                     f"checked{star} · Label all: ★ and its {n - 1}")
        else:
            total = len(self.state.selection.rows)
            count = (f"{len(self.checked)} of {n} shown checked · Label all: all {total:,} "
                     "selected")
        self.status.setText(f"{count} · click: check, double click: show that object")

    # -- user actions -----------------------------------------------------------------
    def toggle(self, index: int) -> None:
        if index >= len(self.rows):
            return
        self.checked.symmetric_difference_update({index})
        pen = CHECKED_PEN if index in self.checked else PLAIN_PEN
        self.cells[index].getViewBox().setBorder(pen)
        self._update_status()

    def open_cell(self, index: int) -> None:
        if index < len(self.rows):
            self.state.selection.set_current(int(self.rows[index]), source=self)

    def target_rows(self, which: str) -> np.ndarray:
        """Rows "all" or "checked" stand for: "all" of a selection is every selected
        object (also those beyond the grid); of neighbours, the object and its grid."""
        if which == "checked":
            return self.rows[sorted(self.checked)]
        if self.mode == "selection":
            return self.state.selection.rows.copy()
        return self.rows.copy()

    def label_rows(self, which: str, label: str) -> int:
        """Label the rows ``which`` stands for; one journal entry each. Returns the count."""
        rows = self.target_rows(which)
        done = self.state.add_labels(rows, label)
        self.status.setText(f"labelled {done} object{'s' * (done != 1)} '{label}'")
        return done

    def _label_clicked(self, which: str) -> None:
        label = self.label.currentText()
        try:
            self.label_rows(which, label)
        except (PvsvetError, RuntimeError) as exc:
            self.status.setText(str(exc))
