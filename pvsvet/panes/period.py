"""Period work: the Lomb–Scargle periodogram of the current star and a fold on any trial
period (typed, clicked on the periodogram, or one of the listed peaks).

The periodogram is the engine's (:mod:`engine.periodogram`, astropy; g and r together)
and runs on a worker thread, once per object. A click on the periodogram snaps to the
highest point near it. The fold shows the two bands offset in one panel or in one panel
each, with or without error bars. "Use P for labels" makes the label keys and the
similar-objects grid record the trial period with the label (the journal's ``period``).

"Residuals" removes the fold at the trial period (:func:`engine.periodogram.prewhiten`, a
Fourier series per band) and shows the periodogram and fold of what is left: a blended
or companion variable, a second pulsation mode, the Blazhko side peaks, or the true
period under a wrong one. The period removed stays until the box is ticked again.
"""
from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout, QWidget)

from engine.fold import fold
from engine.periodogram import (alias_of, lightcurve_periodogram, nearest_peak, peaks,
                                prewhiten)

from ..state import AppState
from ..workers import call_async
from .common import BAND_COLOURS, BAND_NAMES, HIGHLIGHT, LogAxis, rgba

logger = logging.getLogger(__name__)


def _period_or_none(p) -> float | None:
    """``p`` as a period in days, None when it is not a finite positive number."""
    return float(p) if p is not None and np.isfinite(p) and p > 0 else None


class PeriodPane(QWidget):
    """Periodogram and trial fold of ``state.selection.current``."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.row: int | None = None
        self.trial = float("nan")
        # (row, period removed or None) -> Periodogram or error text
        self.results: dict[tuple, object] = {}
        self.removed: float | None = None         # the period prewhitened away, if any
        self._resid: dict[tuple, np.ndarray] = {}
        self.shown: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._lc = None
        self.period_edit = QLineEdit(placeholderText="trial period, days")
        self.period_edit.setMinimumWidth(self.period_edit.fontMetrics().horizontalAdvance(
            "0.00000000 ") + 12)                                  # a 7-digit period in full
        self.best = QPushButton("Highest peak")
        self.catalogue = QPushButton("Catalogue P")
        self.keep = QPushButton("Use P for labels")
        self.panels = QCheckBox("panel per band")
        self.errors = QCheckBox("error bars", checked=True)
        self.residual = QCheckBox("residuals")
        self.residual.setToolTip("periodogram and fold of what is left after removing the "
                                 "fold at the trial period (prewhitening): a blended or "
                                 "companion variable, a second mode")
        self.offset = QDoubleSpinBox(minimum=0, maximum=10, singleStep=0.1, value=0.0,
                                     suffix=" mag", prefix="r offset ")
        self.status = QLabel(wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.plots = pg.GraphicsLayoutWidget()
        self._make_plots()
        self._build_layout()
        self._connect()
        state.selection.changed.connect(self.on_selection)
        state.loaded.connect(self.on_loaded)

    # -- layout ----------------------------------------------------------------------
    def _make_plots(self) -> None:
        self.pgram = self.plots.addPlot(row=0, col=0, colspan=2,
                                        axisItems={"bottom": LogAxis("bottom")})
        self.pgram.setLogMode(x=True)
        self.pgram.setLabel("bottom", "period [d]")
        self.pgram.setLabel("left", "LS power")
        self.pgram.getAxis("left").enableAutoSIPrefix(False)
        self.pgram.setMenuEnabled(False)
        self.pgram.setDownsampling(auto=True, mode="peak")
        self.pgram.setClipToView(True)
        self.curve = self.pgram.plot(pen=pg.mkPen("#9fb3c8", width=1))
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen(HIGHLIGHT, width=1.5))
        self.cat_marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#c8a050", width=1,
                                                                   style=Qt.DashLine))
        for line in (self.marker, self.cat_marker):
            self.pgram.addItem(line, ignoreBounds=True)
        self.pgram.scene().sigMouseClicked.connect(self._on_click)
        self.folds = [pg.PlotItem() for _ in (0, 1)]
        self._placed: bool | None = None
        self._items: dict = {}
        for c, pi in enumerate(self.folds):
            pi.invertY(True)
            pi.setLabel("bottom", "phase")
            pi.setLabel("left", "magnitude [mag]" if c == 0 else "")
            pi.getAxis("left").enableAutoSIPrefix(False)        # residuals: mag, not mmag
            pi.setMenuEnabled(False)
            for name, colour in zip(BAND_NAMES, BAND_COLOURS):
                err = pg.ErrorBarItem(x=np.zeros(1), y=np.zeros(1), height=np.zeros(1),
                                      beam=0, pen=pg.mkPen(rgba(colour, 90), width=1))
                pts = pg.ScatterPlotItem(size=4, pen=None, brush=colour)
                pi.addItem(err)
                pi.addItem(pts)
                self._items[(c, name)] = (err, pts)
        self._place_folds(False)
        self.plots.ci.layout.setRowStretchFactor(0, 2)
        self.plots.ci.layout.setRowStretchFactor(1, 3)

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(QLabel("P"))
        bar.addWidget(self.period_edit)
        for w in (self.best, self.catalogue, self.residual, self.panels, self.errors,
                  self.offset, self.keep):
            bar.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.plots, 1)
        lay.addWidget(self.status)

    def _connect(self) -> None:
        self.period_edit.returnPressed.connect(self._typed)
        self.best.clicked.connect(self._best)
        self.catalogue.clicked.connect(lambda: self.set_trial(self._catalogue_period()))
        self.keep.clicked.connect(self.keep_for_labels)
        self.residual.toggled.connect(self._on_residual)
        for sig in (self.panels.toggled, self.errors.toggled, self.offset.valueChanged):
            sig.connect(self.draw_fold)

    # -- state -----------------------------------------------------------------------
    def on_loaded(self, state: AppState) -> None:
        self.results.clear()
        self._resid.clear()
        self.row = None
        self.on_selection(state.selection, None)

    def on_selection(self, sel, source) -> None:
        if sel.current == self.row and self._lc is not None:
            return
        self.row = sel.current
        self._lc = None
        if not self.isVisible():             # a hidden tab computes nothing; see showEvent
            return
        if self.row is None or self.state.path is None:
            self.curve.setData([], [])
            self.status.setText("select an object in the table")
            return
        det = self.state.detail(self.row)
        if det.busy or det.error:
            self.status.setText("store busy — select again" if det.busy else det.error)
            return
        self._lc = det.lightcurve
        start = self.state.corrected_period.get(self.row, self._catalogue_period())
        if self.residual.isChecked():
            self.removed = _period_or_none(start)
        self.set_trial(start)
        self._show_periodogram()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._lc is None:
            self.on_selection(self.state.selection, None)

    def pending(self) -> bool:
        """Whether the current object's periodogram is still being computed."""
        return self.row is not None and self._lc is not None and self._key() not in self.results

    def _key(self) -> tuple:
        return (self.row, self.removed)

    def _catalogue_period(self) -> float:
        return float(self.state.catalog.period[self.row]) if self.row is not None else np.nan

    # -- periodogram -------------------------------------------------------------------
    def _show_periodogram(self) -> None:
        row, path, key = self.row, self.state.path, self._key()
        res = self.results.get(key)
        if res is None:
            self.curve.setData([], [])
            what = "" if key[1] is None else f" of the residuals after removing P = {key[1]:.7g} d"
            self.status.setText(f"computing the Lomb–Scargle periodogram (g and r){what}…")
            lc, removed = self._lc, key[1]

            def work():
                # j pressed ten times queues ten of these: skip those no longer shown
                return (lightcurve_periodogram(lc, removed=removed)
                        if (row, removed) == self._key() else None)

            def done(result, err):
                if path != self.state.path or (result is None and err is None):
                    return
                self.results[key] = result if err is None else f"periodogram: {err}"
                if key == self._key():
                    self._show_periodogram()

            call_async(work, done)
            return
        if isinstance(res, str):
            self.curve.setData([], [])
            self.cat_marker.setVisible(False)
            ok = np.isfinite(self.trial) and self.trial > 0
            self.status.setText(res + (f" · the fold uses P = {self.trial:.7g} d (type "
                                       "another period to fold on it)" if ok else ""))
            return
        self.curve.setData(res.period, res.power)
        cat = self._catalogue_period()
        # a catalogue period beyond the trial range has no place on this axis (see _say)
        self.cat_marker.setVisible(bool(np.isfinite(cat) and 0 < cat <= res.longest_period))
        if self.cat_marker.isVisible():
            self.cat_marker.setValue(np.log10(cat))
        self._say()

    @property
    def result(self):
        res = self.results.get(self._key())
        return None if isinstance(res, str) else res

    def beyond_range(self) -> str:
        """A note where the catalogue period is longer than the periodogram reaches (LPVs:
        Miras and SRs with a few cycles in the baseline), else ''."""
        res, cat = self.result, self._catalogue_period()
        if res is None or not (np.isfinite(cat) and cat > res.longest_period * 1.0001):
            return ""
        return (f"catalogue P = {cat:.6g} d is longer than the periodogram reaches "
                f"({res.longest_period:.4g} d, a third of the {res.baseline:.4g}-d baseline: "
                "a period needs about three cycles to show), so no peak can confirm it; the "
                "fold uses it (Catalogue P), or type a period")

    def _say(self) -> None:
        res, cat = self.result, self._catalogue_period()
        note = self.beyond_range()
        parts = [note] if note else []
        if res is not None and self.removed is not None:
            parts.append(f"residuals after removing P = {self.removed:.7g} d "
                         f"({'/'.join(str(h) for h in res.harmonics)} harmonics in "
                         f"{'/'.join(BAND_NAMES[b] for b in res.bands)})")
            ref, same = self.removed, " = the removed P"
        else:
            ref, same = cat, " = catalogue P"
        if res is not None:
            listed = []
            for p, power in peaks(res, 4):
                rel = alias_of(p, ref) if np.isfinite(ref) and ref > 0 else "unrelated"
                listed.append(f"{p:.6g} d ({power:.2f}{', ' + rel if rel else same})")
            parts.append("peaks: " + "; ".join(listed))
        if self.row in self.state.corrected_period:
            parts.append(f"labels record P = {self.state.corrected_period[self.row]:.7g} d")
        parts.append("click the periodogram to fold on a peak; yellow: trial, dashed: "
                     "catalogue")
        self.status.setText(" · ".join(parts))

    def _on_click(self, ev) -> None:
        if ev.button() != Qt.LeftButton or not self.pgram.sceneBoundingRect().contains(
                ev.scenePos()):
            return
        x = self.pgram.getViewBox().mapSceneToView(ev.scenePos()).x()
        self.click_period(10.0 ** x)

    def click_period(self, period: float) -> float:
        """Fold on the periodogram peak nearest ``period`` (days); return the period."""
        res = self.result
        self.set_trial(nearest_peak(res, period) if res is not None else period)
        return self.trial

    def _best(self) -> None:
        if self.result is not None:
            self.set_trial(self.result.best_period)

    def _typed(self) -> None:
        try:
            value = float(self.period_edit.text())
        except ValueError:
            value = float("nan")
        if not 0 < value < np.inf:
            self.status.setText(f"'{self.period_edit.text()}' is not a period in days")
            return
        self.set_trial(value)

    def _on_residual(self, on: bool) -> None:
        """Tick: remove the fold at the trial period (or the catalogue's); untick: back
        to the raw photometry."""
        if on:
            self.removed = _period_or_none(self.trial) or _period_or_none(
                self._catalogue_period())
            if self.removed is None:
                self.residual.setChecked(False)
                self.status.setText("no period to remove: type one first")
                return
        else:
            self.removed = None
        if self._lc is not None:
            self._show_periodogram()
        self.draw_fold()

    def residual_mags(self) -> np.ndarray | None:
        """The current star's magnitudes less the fold at the removed period (None when
        nothing is removed)."""
        if self.removed is None or self._lc is None:
            return None
        key = self._key()
        if key not in self._resid:
            lc = self._lc
            self._resid[key] = prewhiten(lc.time, lc.mag, lc.magerr, lc.band, self.removed)[0]
        return self._resid[key]

    # -- trial fold --------------------------------------------------------------------
    def set_trial(self, period: float) -> None:
        self.trial = float(period)
        ok = np.isfinite(self.trial) and self.trial > 0
        self.period_edit.setText(f"{self.trial:.7g}" if ok else "")
        self.marker.setVisible(bool(ok))
        if ok:
            self.marker.setValue(np.log10(self.trial))
        self.draw_fold()

    def _place_folds(self, panels: bool) -> None:
        """One wide panel, or one per band side by side (a hidden plot would keep its
        space in the grid, so the plots are re-placed)."""
        if self._placed is panels:
            return
        if self._placed is not None:
            for pi in self.folds:
                if pi.scene() is not None:
                    self.plots.ci.removeItem(pi)
        if panels:
            self.plots.addItem(self.folds[0], row=1, col=0)
            self.plots.addItem(self.folds[1], row=1, col=1)
        else:
            self.plots.addItem(self.folds[0], row=1, col=0, colspan=2)
        self._placed = panels

    def draw_fold(self) -> None:
        self.shown = {}
        panels = self.panels.isChecked()
        self._place_folds(panels)
        self.offset.setEnabled(not panels)
        for err, pts in self._items.values():
            err.setVisible(False)
            pts.setData([], [])
        lc, ok = self._lc, np.isfinite(self.trial) and self.trial > 0
        if lc is None or not ok:
            return
        resid = self.residual_mags()
        mags = lc.mag if resid is None else resid
        for b, name in enumerate(BAND_NAMES):
            m = (lc.band == b) & np.isfinite(mags)
            x = fold(lc.time[m], self.trial)
            y = mags[m].astype("f8") + (0 if panels or b == 0 else self.offset.value())
            e = lc.magerr[m].astype("f8")
            x, y, e = np.concatenate([x, x + 1]), np.tile(y, 2), np.tile(e, 2)
            err, pts = self._items[(b if panels else 0, name)]
            pts.setData(x, y)
            err.setData(x=x, y=y, height=2 * e)
            err.setVisible(self.errors.isChecked())
            self.shown[name] = (x, y)
        self.folds[0].setLabel("left", "magnitude [mag]" if resid is None
                               else "residual [mag]")
        removed = "" if resid is None else f", after removing P = {self.removed:.7g} d"
        self.folds[0].setTitle(f"P = {self.trial:.7g} d{removed}" + ("" if panels else
                               f" (r {self.offset.value():+.1f} mag)" * bool(self.offset.value())))

    def keep_for_labels(self) -> None:
        """Record the trial period with this object's next labels."""
        if self.row is None or not (np.isfinite(self.trial) and self.trial > 0):
            return
        self.state.corrected_period[self.row] = self.trial
        self._say()
