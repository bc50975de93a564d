"""The ranked table: a virtual model over the catalogue arrays, with filters and search.

The model never copies rows into Python objects: ``data()`` formats one cell from
the numpy arrays of :class:`pvsvet.catalog.Catalog`, and sorting and filtering are
index arrays of :class:`pvsvet.catalog.CatalogView` (no QSortFilterProxyModel).
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import (QAbstractTableModel, QItemSelection, QItemSelectionModel,
                            QModelIndex, Qt, QTimer)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMenu, QTableView,
                               QToolButton, QVBoxLayout, QWidget)

from ..catalog import COLUMN_KEYS, COLUMNS, OPTIONAL, SCORE_KEYS, SCORE_SPACES, Filter
from ..state import AppState

logger = logging.getLogger(__name__)

#: Selected rows beyond this many are not mirrored as table highlights (the panes show
#: them all); keeps a 730k-row box selection from building a huge QItemSelection.
MAX_MIRRORED = 20000
_ALIGN_RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)
_NUMERIC = {"rank", "why", "period", "gr", *SCORE_KEYS, *OPTIONAL}
#: Columns sorted highest first on their first click (a score: most anomalous first).
_DESCENDING_FIRST = {"why", *SCORE_KEYS}
#: Optional columns shown when the store has them, unless the user hid them.
_SHOWN_BY_DEFAULT = {"rank", "id", "name", "class", "label", "why", "period", "gr", "flags",
                     "added", *SCORE_KEYS}


class CatalogModel(QAbstractTableModel):
    """Qt model over ``state.view`` (positions -> catalogue rows)."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt override)
        return 0 if parent.isValid() else len(self.state.view)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        if not index.isValid():
            return None
        key = COLUMN_KEYS[index.column()]
        if role == Qt.DisplayRole:
            row = int(self.state.view.rows[index.row()])
            return self.state.catalog.text(key, row)
        if role == Qt.ToolTipRole and key in ("id", "name"):
            return self.state.catalog.text(key, int(self.state.view.rows[index.row()]))
        if role == Qt.TextAlignmentRole and key in _NUMERIC:
            return _ALIGN_RIGHT
        if role == Qt.ForegroundRole and key == "label":
            return QBrush(QColor("#e0a030"))
        if role == Qt.ForegroundRole and key == "added":
            return QBrush(QColor("#4aa3df"))
        if key == "why" and role == Qt.ToolTipRole:
            row = int(self.state.view.rows[index.row()])
            return self.state.catalog.why_tooltip(row) or None
        if key == "flags" and role in (Qt.ForegroundRole, Qt.ToolTipRole):
            row = int(self.state.view.rows[index.row()])
            if role == Qt.ToolTipRole:
                return self.state.catalog.flag_reason(row) or None
            return QBrush(QColor("#e06c5a"))
        return None

    def headerData(self, section: int, orientation, role: int = Qt.DisplayRole):  # noqa: N802
        if orientation == Qt.Horizontal:
            key = COLUMNS[section][0]
            if role == Qt.DisplayRole:
                if key == "rank" and self.state.catalog.rank_space:
                    short = SCORE_SPACES[self.state.catalog.rank_space][0]
                    return f"rank ({short})"
                return COLUMNS[section][1]
            if role == Qt.ToolTipRole:
                return COLUMNS[section][2]
            if role == Qt.InitialSortOrderRole:   # Qt reads this on a header's first click
                return Qt.DescendingOrder if key in _DESCENDING_FIRST else Qt.AscendingOrder
        return None

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        key = COLUMN_KEYS[column]
        self.relayout(lambda: self.state.view.sort(key, order == Qt.DescendingOrder))

    def relayout(self, change) -> None:
        """Run ``change()`` (a new order or filter of ``state.view``) and move every
        persistent index (the view's current row, its selection) with its catalogue row.

        Table positions are not objects: without this, the highlighted position would
        keep its number and show another star after a sort, while the Selection (and
        the label keys) still meant the old one.
        """
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        view = self.state.view
        rows = [int(view.rows[i.row()]) if i.isValid() and i.row() < len(view) else None
                for i in old]
        change()
        new = []
        for idx, row in zip(old, rows):
            pos = None if row is None else view.position(row)
            new.append(QModelIndex() if pos is None else self.index(pos, idx.column()))
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def reset(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def row_changed(self, row: int) -> None:
        pos = self.state.view.position(row)
        if pos is not None:
            col = COLUMN_KEYS.index("label")
            self.dataChanged.emit(self.index(pos, col), self.index(pos, col))


class FilterBar(QWidget):
    """Search, class, label, score range and 'unlabelled only' controls."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="search id or name…", clearButtonEnabled=True)
        self.cls = QComboBox(toolTip="show one class")
        self.label = QComboBox(toolTip="show one label")
        self.space = QComboBox(toolTip="the score space that ranks the table (rank column, "
                               "default order and the score ≥ filter)")
        self.smin = _spin("only objects at least this anomalous in the ranking space")
        self.unlabelled = QCheckBox("unlabelled", toolTip="only objects without a label")
        self.new = QCheckBox("new only", toolTip="only objects added after the model and "
                             "forests were fitted: those of the latest `run --new-only` and "
                             "any appended since")
        self.selected = QCheckBox("selection only", toolTip="only the objects of the current "
                                  "selection (box, lasso or table)")
        self.columns = QToolButton(text="columns", toolTip="choose the table's columns",
                                   popupMode=QToolButton.InstantPopup)
        self.columns.setMenu(QMenu(self.columns))
        # two rows, so the search box keeps its width beside the ranking choice
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        top, bottom = QHBoxLayout(), QHBoxLayout()
        for w in (self.search, QLabel("rank by"), self.space, self.columns):
            top.addWidget(w)
        top.setStretch(0, 3)
        for w in (self.cls, self.label, QLabel("score ≥"), self.smin, self.unlabelled,
                  self.new, self.selected):
            bottom.addWidget(w)
        bottom.addStretch(1)
        lay.addLayout(top)
        lay.addLayout(bottom)

    def fill_spaces(self, spaces: list[str], current: str) -> None:
        self.space.blockSignals(True)
        self.space.clear()
        for sp in spaces:
            self.space.addItem(sp, sp)
        self.space.setCurrentIndex(max(0, self.space.findData(current)))
        self.space.blockSignals(False)

    def fill(self, classes: list[str], labels: list[str]) -> None:
        for combo, items, first in ((self.cls, classes, "all classes"),
                                    (self.label, labels, "all labels")):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([first] + items)
            combo.setCurrentIndex(max(0, combo.findText(current)))
            combo.blockSignals(False)

    def value(self, selected_rows: np.ndarray | None = None) -> Filter:
        cls = self.cls.currentText() if self.cls.currentIndex() > 0 else ""
        lab = self.label.currentText() if self.label.currentIndex() > 0 else ""
        return Filter(classes=(cls,) if cls else (), labels=(lab,) if lab else (),
                      unlabelled_only=self.unlabelled.isChecked(),
                      new_only=self.new.isChecked() and not self.new.isHidden(),
                      score_min=self.smin.value() if self.smin.value() > 0 else None,
                      search=self.search.text(),
                      rows=selected_rows if self.selected.isChecked() else None)


def _spin(tip: str) -> QDoubleSpinBox:
    s = QDoubleSpinBox(toolTip=tip, decimals=2, singleStep=0.05)
    s.setRange(0.0, 1.0)
    return s


class AnomalyTablePane(QWidget):
    """Ranked table linked to ``state.selection``."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.model = CatalogModel(state, self)
        self.filters = FilterBar(self)
        self.table = _make_table(self.model)
        self.count = QLabel()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.filters)
        lay.addWidget(self.table)
        lay.addWidget(self.count)
        self._filter_timer = QTimer(self, singleShot=True, interval=250)
        self._filter_timer.timeout.connect(self.apply_filter)
        self._connect()
        self.on_loaded(state)

    def _connect(self) -> None:
        f = self.filters
        f.search.textChanged.connect(self._filter_timer.start)   # debounced typing
        for sig in (f.cls.currentIndexChanged, f.label.currentIndexChanged,
                    f.smin.valueChanged, f.unlabelled.toggled, f.new.toggled):
            sig.connect(self.apply_filter)
        f.selected.toggled.connect(self._on_selection_only)
        f.space.currentIndexChanged.connect(self._on_space)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.state.selection.changed.connect(self.on_selection)
        self.state.loaded.connect(self.on_loaded)
        self.state.labels_changed.connect(self.on_labels)

    # -- state -> view ---------------------------------------------------------
    def on_loaded(self, state: AppState) -> None:
        cat = state.catalog
        self.filters.fill(cat.class_names(), list(cat.label_names))
        self.filters.fill_spaces(cat.spaces(), cat.rank_space)
        self.filters.new.setVisible(cat.has_added())   # only where rows came after the fit
        self._show_columns()
        state.view.set_filter(self.filters.value(self._filter_rows))
        self.model.reset()
        fit_columns(self.table)
        self._update_count()
        self._show_sort_indicator()
        self.show_selection()

    # -- columns ---------------------------------------------------------------------
    #: columns the user hid or showed in the chooser (key -> shown)
    chosen: dict[str, bool] = {}

    def available(self, key: str) -> bool:
        """Whether the store has data for a column (scores of unscored spaces do not)."""
        cat = self.state.catalog
        if key.startswith("score_"):
            return key[len("score_"):] in cat.scores
        if key == "why":
            return cat.vet_surprise is not None
        if key in OPTIONAL:
            return key in cat.extra
        if key == "added":
            return cat.has_added()
        return True

    def _show_columns(self) -> None:
        menu = self.filters.columns.menu()
        menu.clear()
        for col, (key, header, tip) in enumerate(COLUMNS):
            ok = self.available(key)
            shown = ok and self.chosen.get(key, key in _SHOWN_BY_DEFAULT)
            self.table.setColumnHidden(col, not shown)
            if ok and key != "rank":
                act = menu.addAction(header)
                act.setCheckable(True)
                act.setChecked(shown)
                act.setToolTip(tip)
                act.toggled.connect(lambda on, k=key: self.choose_column(k, on))

    def choose_column(self, key: str, shown: bool) -> None:
        """Show or hide a column (kept in the window's settings)."""
        self.chosen = {**self.chosen, key: bool(shown)}
        self.table.setColumnHidden(COLUMN_KEYS.index(key), not shown)

    def _show_sort_indicator(self) -> None:
        view = self.state.view
        self.table.setSortingEnabled(False)   # the view already holds the order
        self.table.horizontalHeader().setSortIndicator(
            COLUMN_KEYS.index(view.sort_key),
            Qt.DescendingOrder if view.descending else Qt.AscendingOrder)
        self.table.setSortingEnabled(True)

    # -- ranking space -----------------------------------------------------------------
    def _on_space(self) -> None:
        space = self.filters.space.currentData()
        if space:
            self.set_rank_space(space)

    def set_rank_space(self, space: str) -> None:
        """Rank by ``space``: the rank column, the default order and the score filter."""
        self.state.rank_space = space
        self.model.relayout(lambda: self.state.view.set_rank_space(space))
        self.model.headerDataChanged.emit(Qt.Horizontal, 0, 0)
        fit_columns(self.table)
        idx = self.filters.space.findData(space)
        if idx >= 0 and idx != self.filters.space.currentIndex():
            self.filters.space.blockSignals(True)
            self.filters.space.setCurrentIndex(idx)
            self.filters.space.blockSignals(False)
        self._update_count()
        self.state.view_changed.emit()        # the latent plot colours by this score
        self.show_selection()

    def settings(self) -> dict:
        return {"space": self.state.rank_space or "",
                "columns": ",".join(f"{k}={int(v)}" for k, v in self.chosen.items())}

    def restore(self, s: dict) -> None:
        if s.get("space"):
            self.state.rank_space = str(s["space"])
        pairs = [p.split("=") for p in str(s.get("columns") or "").split(",") if "=" in p]
        self.chosen = {k: v == "1" for k, v in pairs if k in COLUMN_KEYS}
        if len(self.state.catalog):
            self._show_columns()

    # -- selection-only filter -----------------------------------------------------------
    _filter_rows: np.ndarray | None = None

    def _on_selection_only(self, on: bool) -> None:
        self._filter_rows = self.state.selection.rows.copy() if on else None
        self.apply_filter()

    def on_labels(self, rows) -> None:
        self.filters.fill(self.state.catalog.class_names(), list(self.state.catalog.label_names))
        if self.filters.label.currentIndex() > 0 or self.filters.unlabelled.isChecked():
            self.apply_filter()
        for r in rows:
            self.model.row_changed(int(r))

    def on_selection(self, sel, source) -> None:
        if source is self:
            return
        if self.filters.selected.isChecked() and len(sel.rows) > 1:
            # a new box/lasso selection while "selection only" is on: show that one
            self._filter_rows = sel.rows.copy()
            self.apply_filter()
            return
        self.show_selection()

    def show_selection(self) -> None:
        """Make the table's current row and selection those of ``state.selection``.

        The Selection is the one source of truth for "the current object": the table
        only mirrors it. An object the filter hides leaves no row current, so no other
        star is highlighted while the panes and the label keys mean the hidden one.
        """
        sel, view, sm = self.state.selection, self.state.view, self.table.selectionModel()
        pos = None if sel.current is None else view.position(sel.current)
        self._from_state = True
        try:
            if pos is None:
                sm.clearSelection()
                sm.setCurrentIndex(QModelIndex(), QItemSelectionModel.NoUpdate)
                return
            index = self.model.index(pos, 0)
            sm.setCurrentIndex(index, QItemSelectionModel.ClearAndSelect
                               | QItemSelectionModel.Rows)
            if len(sel.rows) > 1:
                sm.select(self._ranges(sel.rows), QItemSelectionModel.Select
                          | QItemSelectionModel.Rows)
            self.table.scrollTo(index)
        finally:
            self._from_state = False

    def _ranges(self, rows: np.ndarray) -> QItemSelection:
        """The shown positions of ``rows`` as contiguous row ranges (few Qt objects)."""
        view = self.state.view
        pos = np.array([p for p in (view.position(int(r)) for r in rows[:MAX_MIRRORED])
                        if p is not None], dtype=np.int64)
        out = QItemSelection()
        if not len(pos):
            return out
        pos.sort()
        breaks = np.flatnonzero(np.diff(pos) > 1)
        starts = np.r_[pos[0], pos[breaks + 1]]
        ends = np.r_[pos[breaks], pos[-1]]
        last = self.model.columnCount() - 1
        for a, b in zip(starts, ends):
            out.select(self.model.index(int(a), 0), self.model.index(int(b), last))
        return out

    # -- view -> state -----------------------------------------------------------
    _from_state = False

    def _on_current_changed(self, current: QModelIndex, _previous) -> None:
        if self._from_state or not current.isValid():
            return
        row = int(self.state.view.rows[current.row()])
        self.state.selection.set_current(row, source=self)

    def _on_selection_changed(self, *_):
        if self._from_state:
            return
        positions = [i.row() for i in self.table.selectionModel().selectedRows()]
        if len(positions) > 1:
            rows = self.state.view.rows[np.asarray(positions)]
            cur = self.table.currentIndex()
            current = int(self.state.view.rows[cur.row()]) if cur.isValid() else None
            self.state.selection.select(rows, current, source=self)

    def apply_filter(self) -> None:
        flt = self.filters.value(self._filter_rows)
        self.model.relayout(lambda: self.state.view.set_filter(flt))
        self._update_count()
        self.state.view_changed.emit()
        self.show_selection()

    def _update_count(self) -> None:
        n, total = len(self.state.view), len(self.state.catalog)
        self.count.setText(f"{n:,} of {total:,} objects" if n != total else f"{total:,} objects")

    # -- navigation (used by the main window's keys) ------------------------------
    def move(self, step: int) -> None:
        """Select the object ``step`` positions further down the current ranking."""
        view, sel = self.state.view, self.state.selection
        if not len(view):
            return
        pos = view.position(sel.current) if sel.current is not None else None
        pos = 0 if pos is None else int(np.clip(pos + step, 0, len(view) - 1))
        sel.set_current(int(view.rows[pos]), source=None)


def _make_table(model: CatalogModel) -> QTableView:
    t = QTableView()
    t.setModel(model)
    t.setSelectionBehavior(QAbstractItemView.SelectRows)
    t.setSelectionMode(QAbstractItemView.ExtendedSelection)
    t.setAlternatingRowColors(True)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(22)
    t.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)   # no per-row size query
    hh = t.horizontalHeader()
    hh.setSectionResizeMode(QHeaderView.Interactive)
    hh.setStretchLastSection(True)
    hh.setTextElideMode(Qt.ElideNone)
    fit_headers(t)
    t.setFocusPolicy(Qt.StrongFocus)
    return t


#: Room beside a header's text for the sort arrow and the cell margins (px).
HEADER_PAD = 40
CELL_PAD = 16
#: Widest a data-sized column gets (px); longer texts elide, with the full one as tooltip.
MAX_WIDTH = 280


def fit_headers(t: QTableView) -> None:
    """Every column at least as wide as its header text (no "score (cart." or "e (lab")."""
    fm = t.horizontalHeader().fontMetrics()
    model = t.model()
    for col in range(model.columnCount()):
        text = str(model.headerData(col, Qt.Horizontal, Qt.DisplayRole))
        t.setColumnWidth(col, max(fm.horizontalAdvance(text) + HEADER_PAD, 48))


def fit_columns(t: QTableView, sample: int = 500) -> None:
    """Headers' widths, then id, name, class, rank and label widened to the longest text
    among the first ``sample`` rows (names were cut to "ZTFJ190…", ranks to "193…")."""
    fit_headers(t)
    model, fm = t.model(), t.fontMetrics()
    n = min(sample, model.rowCount())
    for key in ("rank", "id", "name", "class", "label", "why"):
        col = COLUMN_KEYS.index(key)
        texts = [str(model.index(i, col).data() or "") for i in range(n)]
        if key == "rank":
            texts.append(str(model.rowCount()))        # the widest rank there can be
        need = max((fm.horizontalAdvance(x) for x in texts), default=0) + CELL_PAD
        t.setColumnWidth(col, min(MAX_WIDTH, max(t.columnWidth(col), need)))
