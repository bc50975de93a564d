"""Why is it anomalous, in numbers: the engine's explanations of the current object.

Four parts, each computed by :mod:`engine.anomaly.explain` (nothing here computes):
the vetting questions with their p values; the chosen forest space's per-feature
contributions (the forest refitted once per store and space from the stored feature
matrix, on a worker thread; its raw score is shown beside the stored one); the GP curve
against the VAE reconstruction with the residual per phase; and the catalogue features
against the object's class. A hidden pane computes nothing.
"""
from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine.anomaly.explain import (ClassFeatures, ForestExplainer, forest_spaces,
                                    reconstruction_residual, vetting_answers)
from engine.errors import PvsvetError
from engine.labels import RANK_PREFERENCE
from engine.store import Store

from ..state import AppState
from ..workers import call_async
from .common import BAND_COLOURS, BAND_NAMES

logger = logging.getLogger(__name__)

FITTING = "refitting the forest as it was scored…"     # placeholders while work runs
DECODING = "decoding the VAE reconstruction…"


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().hide()
    t.setEditTriggers(QAbstractItemView.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.NoSelection)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    # the names give way (elided, full text in the tooltip) so the numbers stay visible
    t.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
    t.setTextElideMode(Qt.ElideMiddle)
    t.verticalHeader().setDefaultSectionSize(20)
    return t


def _fill(table: QTableWidget, rows: list[list[str]], tips: list[str] | None = None) -> None:
    table.clearContents()
    table.setRowCount(len(rows))
    for i, cells in enumerate(rows):
        for j, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if j:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            item.setToolTip(tips[i] if tips else cells[0])
            table.setItem(i, j, item)


def _keep_whole(table: QTableWidget) -> None:
    """Make ``table`` at least as wide as its columns' headers and cells, so the splitter
    beside it gives way instead of clipping or scrolling its numbers."""
    hh = table.horizontalHeader()
    need = sum(max(hh.sectionSizeHint(c), table.sizeHintForColumn(c))
               for c in range(table.columnCount()))
    table.setMinimumWidth(need + 2 * table.frameWidth())


def _num(x: float, fmt: str = "{:.3g}") -> str:
    return fmt.format(x) if np.isfinite(x) else "–"


class WhyPane(QWidget):
    """The numbers behind the current object's scores."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.row: int | None = None
        self.values: dict = {}                   # what is shown, as the engine returned it
        self._explainers: dict[str, ForestExplainer | str] = {}
        self._recon: dict[int, dict | str] = {}
        self._class: ClassFeatures | None = None
        self.header = QLabel(wordWrap=True)
        self.vetting = _table(["question", "−log₁₀ p", "p"])
        self.space = QComboBox()
        self.forest_note = QLabel(wordWrap=True)
        self.forest = _table(["feature", "value", "median", "Δ path"])
        # two header lines: "class median (16–84%)" on one was wider than the pane's
        # first layout gives this table, and its stretched column clipped it
        self.features = _table(["feature", "value", "class median\n(16–84%)", "rank"])
        # short names and numbers: every column sized to its header and cells, shown whole
        self.features.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.recon_note = QLabel(wordWrap=True)
        self.plots = pg.GraphicsLayoutWidget()
        self._make_plots()
        self._build_layout()
        self.space.currentIndexChanged.connect(lambda _: self.refresh())
        state.selection.changed.connect(lambda sel, src: self.refresh())
        state.loaded.connect(self.on_loaded)
        self.on_loaded(state)

    # -- layout ---------------------------------------------------------------------
    def _make_plots(self) -> None:
        self.curves = self.plots.addPlot(row=0, col=0)
        self.resid = self.plots.addPlot(row=1, col=0)
        self.resid.setXLink(self.curves)
        self.curves.invertY(True)
        self.curves.setLabel("left", "mag")
        self.resid.setLabel("left", "GP − VAE [mag]")
        self.resid.setLabel("bottom", "phase")
        self.resid.addLine(y=0, pen=pg.mkPen("#808080", width=1))
        self._lines = {}
        for b, (name, colour) in enumerate(zip(BAND_NAMES, BAND_COLOURS)):
            self._lines[f"gp_{name}"] = self.curves.plot(pen=pg.mkPen(colour, width=2))
            self._lines[f"rec_{name}"] = self.curves.plot(
                pen=pg.mkPen(colour, width=1.5, style=Qt.DashLine))
            self._lines[f"res_{name}"] = self.resid.plot(pen=pg.mkPen(colour, width=1.5))
        for pi in (self.curves, self.resid):
            pi.setMenuEnabled(False)
            pi.getAxis("left").enableAutoSIPrefix(False)

    def _build_layout(self) -> None:
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("<b>Vetting questions</b> (p: fraction of comparable stars at "
                            "least as extreme; past their top 5%, from a tail fitted there)",
                            wordWrap=True))
        ll.addWidget(self.vetting, 2)
        ll.addWidget(QLabel("<b>Catalogue features against the class</b>"))
        ll.addWidget(self.features, 3)
        mid = QWidget()
        ml = QVBoxLayout(mid)
        ml.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("<b>Forest</b>"))
        bar.addWidget(self.space, 1)
        ml.addLayout(bar)
        ml.addWidget(self.forest, 1)
        ml.addWidget(self.forest_note)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(QLabel("<b>GP (solid) against the VAE reconstruction (dashed)</b>",
                            wordWrap=True))
        rl.addWidget(self.plots, 1)
        rl.addWidget(self.recon_note)
        split = QSplitter(Qt.Horizontal)
        for i, w in enumerate((left, mid, right)):
            split.addWidget(w)
            split.setStretchFactor(i, 1)
        split.setSizes([330, 330, 320])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.header)
        lay.addWidget(split, 1)

    # -- state ------------------------------------------------------------------------
    def on_loaded(self, state: AppState) -> None:
        self._explainers.clear()
        self._recon.clear()
        self._class = None
        self.space.blockSignals(True)
        self.space.clear()
        if state.path is not None:
            try:
                with Store(state.path, "r", wait=5.0) as st:
                    spaces = forest_spaces(st)
            except PvsvetError as exc:
                spaces = []
                logger.warning("%s", exc)
            self.space.addItems(spaces)
            # the ranking's space, else the forest space ranked first where none is chosen
            order = [state.catalog.rank_space, *RANK_PREFERENCE]
            self.space.setCurrentText(next((sp for sp in order if sp in spaces), ""))
        self.space.blockSignals(False)
        self.row = None
        self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.refresh()

    def pending(self) -> bool:
        """Whether a forest refit or a reconstruction for the current object is running."""
        if not self.isVisible() or self.row is None:
            return False
        forest = self._explainers.get(self.space.currentText())
        recon = self._recon.get(self.row)
        return (self.space.count() > 0 and forest in (None, FITTING)) or (
            {"vae/model", "interp/mean"} <= self.state.groups and recon in (None, DECODING))

    def refresh(self) -> None:
        if not self.isVisible():
            return
        self.row = self.state.selection.current
        self.values = {}
        if self.row is None or self.state.path is None:
            self.header.setText("select an object in the table")
            for t in (self.vetting, self.forest, self.features):
                t.setRowCount(0)
            return
        cat = self.state.catalog
        self.header.setText(f"<b>{cat.object_id(self.row)}</b> &nbsp; {cat.text('class', self.row)}"
                            f" &nbsp; rank {cat.text('rank', self.row)} by "
                            f"{cat.rank_space or '–'}")
        self._show_vetting()
        self._show_class_features()
        self._show_forest()
        self._show_reconstruction()

    # -- parts ------------------------------------------------------------------------
    def _show_vetting(self) -> None:
        try:
            with Store(self.state.path, "r", wait=0.5) as st:
                answers = vetting_answers(st, self.row)
        except PvsvetError as exc:
            # a message, not a question: across the row, whole in the tooltip
            _fill(self.vetting, [[str(exc)]])
            self.vetting.setSpan(0, 0, 1, self.vetting.columnCount())
            self.vetting.item(0, 0).setTextAlignment(Qt.AlignLeft | Qt.AlignTop)
            self.vetting.setWordWrap(True)
            self.vetting.resizeRowToContents(0)
            return
        self.vetting.clearSpans()
        self.vetting.setRowCount(0)              # rows back to their default height
        self.values["vetting"] = answers
        _fill(self.vetting, [[a["name"], _num(a["log10p"], "{:.2f}"),
                              "not asked" if a["note"] else _num(a["p"])]
                             for a in answers],
              [a["text"] + (f" ({a['note']})" if a["note"] else "") for a in answers])

    def _show_class_features(self) -> None:
        if self._class is None:
            self._class = ClassFeatures.from_store(self.state.path)
        rows = self._class.explain(self.row)
        self.values["class_features"] = rows
        _fill(self.features, [[r["label"], _num(r["value"]),
                               f"{_num(r.get('median', np.nan), '{:.2g}')} "
                               f"({_num(r.get('p16', np.nan), '{:.2g}')}–"
                               f"{_num(r.get('p84', np.nan), '{:.2g}')})",
                               _num(100 * r.get("fraction_below", np.nan), "{:.0f}%")]
                              for r in rows],
              [f"{r['label']}" + (f" [{r['unit']}]" if r["unit"] else "") + f"; class "
               f"{r['class']}: {r['n_class']:,} objects with this feature; rank: the "
               "fraction of the class at or below the value" for r in rows])
        _keep_whole(self.features)

    def _show_forest(self) -> None:
        space = self.space.currentText()
        if not space:
            self.forest_note.setText("no forest scores with a stored feature matrix "
                                     "(Run ▸ Score)")
            self.forest.setRowCount(0)
            return
        fe = self._explainers.get(space)
        if fe is None:
            self._fit(space)
            return
        if isinstance(fe, str):
            self.forest_note.setText(fe)
            self.forest.setRowCount(0)
            return
        try:
            ex = fe.explain(self.row)
        except PvsvetError as exc:
            self.forest_note.setText(str(exc))
            self.forest.setRowCount(0)
            return
        self.values["forest"] = ex
        feats = sorted(ex["features"], key=lambda f: -f["path_change"])
        _fill(self.forest, [[f["name"], _num(f["value"]), _num(f["median"]),
                             f"{f['path_change']:+.2f}"] for f in feats])
        self.forest_note.setText(
            f"mean path {ex['mean_path']:.2f} levels, raw score {ex['raw']:.4f} (stored "
            f"{ex['raw_stored']:.4f}; refitted as scored, {fe.forest_.n_estimators:,} trees)."
            " Δ path: change of the mean path when only that feature is set to the median;"
            " > 0: its value isolates the object sooner.")

    def _fit(self, space: str) -> None:
        path = self.state.path
        self._explainers[space] = FITTING
        self.forest_note.setText(FITTING)
        self.forest.setRowCount(0)

        def done(result, err):
            if path != self.state.path:
                return
            self._explainers[space] = result if err is None else f"forest: {err}"
            if space == self.space.currentText():
                self.refresh()

        call_async(lambda: ForestExplainer(space).fit(path), done)

    def _show_reconstruction(self) -> None:
        for line in self._lines.values():
            line.setData([], [])
        if "vae/model" not in self.state.groups or "interp/mean" not in self.state.groups:
            self.recon_note.setText("no GP curves or trained VAE in this store")
            return
        row, path = self.row, self.state.path
        res = self._recon.get(row)
        if res is None:
            self._recon[row] = DECODING
            self.recon_note.setText(DECODING)

            def done(result, err):
                if path != self.state.path:
                    return
                self._recon[row] = result if err is None else f"reconstruction: {err}"
                if row == self.row:
                    self._show_reconstruction()

            call_async(lambda: reconstruction_residual(path, row), done)
            return
        if isinstance(res, str):
            self.recon_note.setText(res)
            return
        self.values["reconstruction"] = res
        for b, name in enumerate(BAND_NAMES):
            self._lines[f"gp_{name}"].setData(res["phase"], res["gp"][b])
            self._lines[f"rec_{name}"].setData(res["phase"], res["reconstruction"][b])
            self._lines[f"res_{name}"].setData(res["phase"], res["residual"][b])
        self.recon_note.setText("RMS of GP − VAE: " + ", ".join(
            f"{n} {r:.3f} mag" for n, r in zip(BAND_NAMES, res["rms"])))
