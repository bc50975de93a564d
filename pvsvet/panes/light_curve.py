"""Light curves of the current object: raw points, GP mean ±2σ, VAE reconstruction.

Magnitudes of the GP and the reconstruction are the scaled curves of eq. 6 turned
back into magnitudes, ``m = y·σ + m̄`` with ``raw_mean_mag`` and ``raw_std_mag``.
"""
from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGraphicsPathItem, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.fold import fold, unscale

from ..catalog import gp_note
from ..loading import MODEL_GROUPS, ObjectDetail
from ..state import AppState
from ..workers import call_async
from .common import BAND_COLOURS, BAND_NAMES, MessagePlot, plot_widget, rgba

logger = logging.getLogger(__name__)


def to_mag(scaled: np.ndarray, raw_mean: np.ndarray, raw_std: np.ndarray) -> np.ndarray:
    """Scaled curves (2, n) back to magnitudes: the engine's inverse of eq. 6."""
    return unscale(scaled, None, raw_mean, raw_std)[0]


def band_path(x: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Closed outline of the band between two curves (for a filled path item)."""
    path = pg.arrayToQPath(np.concatenate([x, x[::-1]]), np.concatenate([hi, lo[::-1]]))
    path.closeSubpath()
    return path


class LightCurvePane(QWidget):
    """Plots of the current object of ``state.selection``."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.row: int | None = None
        self.shown: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._recon: dict[int, np.ndarray | str] = {}
        self.pw = plot_widget("phase", "magnitude", "", "mag")
        self.pw.getPlotItem().invertY(True)
        self._items = self._make_items()
        self.box = MessagePlot(self.pw)
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.axis = QComboBox()
        self.axis.addItems(["phase", "time"])
        self.gp = QCheckBox("GP ±2σ", checked=True)
        self.recon = QCheckBox("VAE reconstruction", checked=True)
        self.cycles = QCheckBox("2 cycles", checked=True)
        self._build_layout()
        for sig in (self.axis.currentIndexChanged, self.gp.toggled, self.recon.toggled,
                    self.cycles.toggled):
            sig.connect(self.redraw)
        state.selection.changed.connect(self.on_selection)
        state.loaded.connect(self.on_loaded)
        self.redraw()

    def _make_items(self) -> dict:
        """Plot items made once and updated with setData: re-creating symbol plots on every
        selection leaks references under PySide6 6.12 (the interpreter aborts at exit)."""
        pi = self.pw.getPlotItem()
        legend = pi.addLegend(offset=(-10, 10), labelTextSize="9pt")
        items: dict = {}
        for name, colour in zip(BAND_NAMES, BAND_COLOURS):
            items[f"err_{name}"] = pg.ErrorBarItem(x=np.zeros(1), y=np.zeros(1),
                                                   height=np.zeros(1), beam=0,
                                                   pen=pg.mkPen(rgba(colour, 90), width=1))
            items[f"pts_{name}"] = pg.ScatterPlotItem(size=5, pen=None, brush=colour)
            items[f"band_{name}"] = QGraphicsPathItem()
            items[f"band_{name}"].setBrush(pg.mkBrush(rgba(colour, 48)))
            items[f"band_{name}"].setPen(pg.mkPen(rgba(colour, 70), width=0.5))
            items[f"gp_{name}"] = pg.PlotCurveItem(pen=pg.mkPen(colour, width=2))
            items[f"rec_{name}"] = pg.PlotCurveItem(
                pen=pg.mkPen(colour, width=1.5, style=Qt.DashLine))
        for item in items.values():
            pi.addItem(item)
        self._legend = legend
        legend.addItem(items["pts_g"], "g")
        legend.addItem(items["pts_r"], "r")
        legend.addItem(items["gp_g"], "GP mean ±2σ")
        legend.addItem(items["rec_g"], "VAE reconstruction")
        return items

    def _name_bands(self, row: int | None = None) -> None:
        """Legend names of the shown object's bands: "simulated ZTF" for the demo's own
        objects, else the survey the store records (plain g, r when it does not: SDSS g
        and r were shown as "ZTF g / ZTF r", and real photometry appended to the demo as
        simulated)."""
        names = self.state.band_labels.for_row(row)
        for (sample, label), text in zip(self._legend.items[:2], names):
            label.setText(text)

    def _hide_all(self) -> None:
        for item in self._items.values():
            item.setVisible(False)

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        for w in (self.axis, self.gp, self.recon, self.cycles):
            bar.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.box, 1)

    # -- state ---------------------------------------------------------------
    def on_loaded(self, state: AppState) -> None:
        self._recon.clear()
        self._name_bands()
        self.redraw()

    def on_selection(self, sel, source) -> None:
        if sel.current != self.row:
            self.row = sel.current
            self.redraw()

    def settings(self) -> dict:
        return {"axis": self.axis.currentText(), "gp": self.gp.isChecked(),
                "recon": self.recon.isChecked(), "cycles": self.cycles.isChecked()}

    def restore(self, s: dict) -> None:
        self.axis.setCurrentText(str(s.get("axis", "phase")))
        for box, key in ((self.gp, "gp"), (self.recon, "recon"), (self.cycles, "cycles")):
            if key in s:
                box.setChecked(str(s[key]).lower() in ("true", "1"))

    # -- drawing ---------------------------------------------------------------
    def redraw(self) -> None:
        self._hide_all()
        self.shown = {}
        if self.row is None or self.state.path is None:
            self.title.setText("")
            self.box.say("select an object in the table")
            return
        det = self.state.detail(self.row)
        if det.busy or det.error:
            self.box.say("store busy (a run is committing) — retrying" if det.busy
                         else det.error)
            return
        self._draw(det)

    def _draw(self, det: ObjectDetail) -> None:
        cat = self.state.catalog
        self._name_bands(det.row)
        phase_mode = self.axis.currentText() == "phase"
        self.title.setText(f"<b>{det.object_id}</b> &nbsp; {cat.text('class', det.row)} &nbsp; "
                           f"P = {det.period:.6g} d")
        pi = self.pw.getPlotItem()
        pi.setLabel("bottom", "phase" if phase_mode else "time", units=None if phase_mode
                    else "MJD")
        notes = []
        ok_period = np.isfinite(det.period) and det.period > 0
        if phase_mode and not ok_period:
            notes.append("no valid period: showing time")
            phase_mode = False
        self._draw_points(det, phase_mode)
        if phase_mode:
            notes += self._draw_models(det)
        self.box.say(" · ".join(n for n in notes if n))

    def _xs(self, x: np.ndarray, phase_mode: bool) -> np.ndarray:
        return np.concatenate([x, x + 1]) if phase_mode and self.cycles.isChecked() else x

    def _ys(self, y: np.ndarray, phase_mode: bool) -> np.ndarray:
        return np.concatenate([y, y]) if phase_mode and self.cycles.isChecked() else y

    def _draw_points(self, det: ObjectDetail, phase_mode: bool) -> None:
        lc = det.lightcurve
        for code, name in enumerate(BAND_NAMES):
            m = lc.band == code
            if not m.any():
                continue
            t, mag, err = lc.time[m], lc.mag[m].astype("f8"), lc.magerr[m].astype("f8")
            x = self._xs(fold(t, det.period) if phase_mode else t - 0.0, phase_mode)
            y, e = self._ys(mag, phase_mode), self._ys(err, phase_mode)
            self._items[f"err_{name}"].setData(x=x, y=y, height=2 * e)
            self._items[f"pts_{name}"].setData(x, y)
            for key in (f"err_{name}", f"pts_{name}"):
                self._items[key].setVisible(True)
            self.shown[name] = (x, y)

    def _draw_models(self, det: ObjectDetail) -> list[str]:
        notes = []
        if det.interp is None:
            return ["no interpolation yet — Run ▸ Interpolate"]
        it = det.interp
        notes.append(gp_note(int(it.get("status") or 0), it.get("status_msg") or ""))
        mean = to_mag(it["mean"], it["raw_mean_mag"], it["raw_std_mag"])
        sig = it["std"] * it["raw_std_mag"][:, None]
        if not np.isfinite(mean).any():
            # a failed fit left no curve (all NaN): drawing it would stretch the axis to 0
            notes.append("no GP curve (the fit failed): the raw points only")
            return notes
        if self.gp.isChecked():
            self._draw_gp(it["phase"], mean, sig)
        if self.recon.isChecked():
            notes.append(self._draw_recon(det, it))
        return notes

    def _draw_gp(self, phase: np.ndarray, mean: np.ndarray, sig: np.ndarray) -> None:
        x = self._xs(phase, True)
        for b, name in enumerate(BAND_NAMES):
            y, s = self._ys(mean[b], True), self._ys(sig[b], True)
            self._items[f"band_{name}"].setPath(band_path(x, y - 2 * s, y + 2 * s))
            self._items[f"gp_{name}"].setData(x, y)
            for key in (f"band_{name}", f"gp_{name}"):
                self._items[key].setVisible(True)
            self.shown[f"gp_{name}"] = (x, y)

    def _draw_recon(self, det: ObjectDetail, it: dict) -> str:
        if not MODEL_GROUPS & self.state.groups:
            return "no trained VAE yet — Run ▸ Retrain VAE"
        rec = self._recon.get(det.row)
        if rec is None:
            self._request_recon(det.row)
            return "decoding VAE reconstruction…"
        if isinstance(rec, str):
            return rec
        x = self._xs(it["phase"], True)
        mag = to_mag(rec, it["raw_mean_mag"], it["raw_std_mag"])
        for b, name in enumerate(BAND_NAMES):
            self._items[f"rec_{name}"].setData(x, self._ys(mag[b], True))
            self._items[f"rec_{name}"].setVisible(True)
        return ""

    def _request_recon(self, row: int) -> None:
        path = self.state.path
        self._recon[row] = "decoding VAE reconstruction…"

        def work():
            from engine.vae import reconstruct
            return np.asarray(reconstruct(path, [row]))[0]

        def done(result, err):
            self._recon[row] = result if err is None else f"reconstruction unavailable: {err}"
            if row == self.row and path == self.state.path:
                self.redraw()

        call_async(work, done)
